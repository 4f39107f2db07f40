// Which engine serves an fp32 original: the kernel engine where it measured faster than onnxruntime-web, by model
// family (variants always go to the kernel engine where it covers the graph).
import type { ModelProto } from "onnx-buf";

/**
 * Whether an fp32 original runs faster on the kernel engine than on onnxruntime-web, by what docs/benchmarks.md
 * measured: MLPs, CNNs (the bench CNN 0.70-0.97x, MobileNetV2 and ResNet-18 below 0.8x), 1-D convolutional nets (the
 * keyword spotter 0.67x at batch 1) and the transformer encoder (0.57-0.70x) run faster on the engine; recurrent
 * graphs (LSTM/GRU) ran 1.04-1.15x slower at batch 1 and stay on onnxruntime-web.
 */
export function fp32OnEngine(model: ModelProto): boolean {
  const graph = model.graph;
  if (!graph) return false;
  return !graph.node.some((n) => n.opType === "LSTM" || n.opType === "GRU");
}
