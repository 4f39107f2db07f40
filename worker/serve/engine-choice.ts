// Which engine serves an fp32 original: the kernel engine where it measured faster than onnxruntime-web, by model
// family (variants always go to the kernel engine where it covers the graph).
import type { ModelProto } from "onnx-buf";

/** Below this many bytes of weights, a convolutional fp32 original is served by onnxruntime-web. */
export const SMALL_CONV_WEIGHT_BYTES = 1 << 20;

/**
 * Whether an fp32 original runs faster on the kernel engine than on onnxruntime-web, by what docs/benchmarks.md
 * measured: MLPs, MobileNetV2, ResNet-18 and the transformer encoder (attention's MatMuls of two run-time operands
 * included: 0.57-0.70x in the families runs) run faster on the engine; recurrent graphs (LSTM/GRU) 1.04-1.15x slower
 * at batch 1, and a small CNN (0.8 MB) 1.06-1.2x slower when this was measured.
 */
export function fp32OnEngine(model: ModelProto): boolean {
  const graph = model.graph;
  if (!graph) return false;
  if (graph.node.some((n) => n.opType === "LSTM" || n.opType === "GRU")) return false;
  const weightBytes = graph.initializer.reduce((sum, t) => sum + t.rawData.byteLength + 4 * t.floatData.length, 0);
  return !(graph.node.some((n) => n.opType === "Conv") && weightBytes < SMALL_CONV_WEIGHT_BYTES);
}

