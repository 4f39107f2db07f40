// Which engine serves an fp32 original: the kernel engine where it measured faster than onnxruntime-web, by model
// family (variants always go to the kernel engine where it covers the graph).
import type { ModelProto } from "onnx-buf";

/** Below this many bytes of weights, a convolutional fp32 original is served by onnxruntime-web. */
export const SMALL_CONV_WEIGHT_BYTES = 1 << 20;

/**
 * Whether an fp32 original runs faster on the kernel engine than on onnxruntime-web, by what docs/benchmarks.md
 * measured: MLPs, MobileNetV2 and ResNet-18 run faster on the engine (0.3-0.8x); recurrent graphs (LSTM/GRU) and
 * attention (MatMul of two run-time operands) 1.05-1.15x slower, and a small CNN (0.8 MB) 1.06-1.2x slower.
 */
export function fp32OnEngine(model: ModelProto): boolean {
  const graph = model.graph;
  if (!graph) return false;
  const constants = new Set([...graph.initializer.map((t) => t.name), ...graph.node.filter((n) => n.opType === "Constant").flatMap((n) => n.output)]);
  for (const n of graph.node) {
    if (n.opType === "LSTM" || n.opType === "GRU") return false;
    if (n.opType === "MatMul" && !n.input.some((i) => constants.has(i))) return false;
  }
  const weightBytes = graph.initializer.reduce((sum, t) => sum + t.rawData.byteLength + 4 * t.floatData.length, 0);
  return !(graph.node.some((n) => n.opType === "Conv") && weightBytes < SMALL_CONV_WEIGHT_BYTES);
}

