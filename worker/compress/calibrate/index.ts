// Calibration for static quantization: which activations need ranges, and the calibrators that turn observed
// values into a [min, max] range per tensor. Collecting the values (running the model) happens elsewhere;
// these modules only see Float32Arrays.
import type { ModelProto, NodeProto } from "onnx-buf";
import { normalizeConstants } from "../../onnx/constants";
import { weightedLayers } from "../../onnx/operators";
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

/** The activations (the data input of each top-level weighted layer static quantization takes) that need ranges. */
export function calibrationTargets(model: ModelProto, include: (node: NodeProto) => boolean = () => true): string[] {
  // Weights behind Constant nodes count as the compression pipeline counts them (it normalizes first).
  const graph = normalizeConstants(model).graph!;
  const inits = new Set(graph.initializer.map((t) => t.name));
  const names = new Set<string>();
  for (const { node, operator, nested } of weightedLayers(graph)) {
    const x = operator.data === null ? undefined : node.input[operator.data];
    if (!nested && x && operator.quantize.includes("static") && include(node) && !inits.has(x)) names.add(x);
  }
  return [...names];
}
