// The node rewrites that keep an op's old meaning at a newer opset, by kind (one module each).
import type { NodeProto } from "onnx-buf";
import { axesInput, clipInputs, padInputs, sliceInputs, splitInput, topKInput } from "./attribute-inputs";
import { batchNormInference } from "./batch-norm";
import { dftAxis } from "./dft";
import { gridSampleMode } from "./grid-sample";
import { batchNormSpatial, dropoutMask, dropoutRatio, resize10, scatterElements, upsampleToResize } from "./legacy";
import { reduceAxes } from "./reduce-axes";
import { roiAlignMode } from "./roi-align";
import { softmaxAxis } from "./softmax-axis";
import { splitOutputs } from "./split";
import type { ConstantSink, GraphFacts } from "./constants";

export type { ConstantSink, GraphFacts };

/** The rewritten node, or why it cannot keep its meaning. */
export type Rewrite = (node: NodeProto, constants: ConstantSink, facts: GraphFacts) => NodeProto | { refuse: string };

export const REWRITES = {
  // Opsets 8-13 (older models lifted to 13).
  "slice-inputs": sliceInputs,
  "topk-input": topKInput,
  "clip-inputs": clipInputs,
  "pad-inputs": padInputs,
  "split-input": splitInput,
  "axes-input": axesInput,
  "softmax-axis": softmaxAxis,
  "dropout-mask": dropoutMask,
  "dropout-ratio": dropoutRatio,
  "batch-norm-spatial": batchNormSpatial,
  "resize-10": resize10,
  "upsample-to-resize": upsampleToResize,
  "scatter-elements": scatterElements,
  // Opsets 14-25.
  "reduce-axes": reduceAxes,
  "split-outputs": splitOutputs,
  "roi-align-mode": roiAlignMode,
  "grid-sample-mode": gridSampleMode,
  "dft-axis": dftAxis,
  "batch-norm-inference": batchNormInference,
} satisfies Record<string, Rewrite>;

export type RewriteKind = keyof typeof REWRITES;
