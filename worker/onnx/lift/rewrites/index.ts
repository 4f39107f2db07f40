// The node rewrites that keep an op's old meaning at a newer opset, by kind (one module each).
import type { NodeProto } from "onnx-buf";
import { batchNormInference } from "./batch-norm";
import { dftAxis } from "./dft";
import { gridSampleMode } from "./grid-sample";
import { reduceAxes } from "./reduce-axes";
import { roiAlignMode } from "./roi-align";
import { splitOutputs } from "./split";
import type { ConstantSink } from "./constants";

export type { ConstantSink };

/** The rewritten node, or why it cannot keep its meaning. */
export type Rewrite = (node: NodeProto, constants: ConstantSink) => NodeProto | { refuse: string };

export const REWRITES = {
  "reduce-axes": reduceAxes,
  "split-outputs": splitOutputs,
  "roi-align-mode": roiAlignMode,
  "grid-sample-mode": gridSampleMode,
  "dft-axis": dftAxis,
  "batch-norm-inference": batchNormInference,
} satisfies Record<string, Rewrite>;

export type RewriteKind = keyof typeof REWRITES;
