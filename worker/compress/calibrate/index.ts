// Calibration for static quantization: which activations need ranges, and the calibrators that turn observed
// values into a [min, max] range per tensor. Collecting the values (running the model) happens elsewhere;
// these modules only see Float32Arrays.
import type { ModelProto, NodeProto } from "onnx-buf";
import { QUANTIZERS } from "../quantize/registry";
import { entropyCalibrator } from "./entropy";
import { minmaxCalibrator } from "./minmax";
import { percentileCalibrator } from "./percentile";
import type { Calibrator, Range } from "./calibrator";

export type { Calibrator, Range };

export type ActivationRanges = Record<string, Range>;

export type CalibrationMethod = "minmax" | "percentile" | "entropy";

export function makeCalibrator(method: CalibrationMethod, percentile = 99.999): Calibrator {
  if (method === "percentile") return percentileCalibrator(percentile);
  if (method === "entropy") return entropyCalibrator();
  return minmaxCalibrator();
}

/** A node whose weight (input 1) is an initializer of an op with a quantizer: the layers we quantize. */
export function isWeightedLayer(node: NodeProto, initializers: ReadonlySet<string>): boolean {
  const standard = node.domain === "" || node.domain === "ai.onnx";
  return standard && QUANTIZERS[node.opType] !== undefined && node.input[1] !== undefined && initializers.has(node.input[1]);
}

/** The activations (input 0 of each weighted layer) that static quantization needs ranges for. */
export function calibrationTargets(model: ModelProto, include: (node: NodeProto) => boolean = () => true): string[] {
  const graph = model.graph!;
  const inits = new Set(graph.initializer.map((t) => t.name));
  const names = new Set<string>();
  for (const node of graph.node) {
    if (isWeightedLayer(node, inits) && include(node) && !inits.has(node.input[0]!)) names.add(node.input[0]!);
  }
  return [...names];
}
