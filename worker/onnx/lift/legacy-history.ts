// What the version changes between opsets 8 and 13 mean for a node written at opset 7-12, so that older models
// (tf2onnx, paddle2onnx and torch exports at opset 9-11) can be lifted to 13 and from there, by OP_HISTORY, to 21
// or 25. Read from onnx 1.12's schema history (every default-domain op with a version in 8-13, its attributes,
// inputs and outputs compared version to version) and ONNX's changelog. Only the changes that need a rewrite or a
// refusal are listed; every other version in 8-13 added types, accepted negative axes or indices, or added an
// attribute or optional input whose default keeps the old result (ArgMax-12 select_last_index, AveragePool-10 and
// MaxPool-10 ceil_mode, MaxPool-8 storage_order and Indices, DepthToSpace-11 mode DCR, Gemm-11 optional C,
// GatherND-12 batch_dims, TopK-11 largest/sorted, QuantizeLinear/DequantizeLinear-13 axis for scalar scales, ...).
import type { Step } from "./history";

const rewrite = (at: number, rewrite: Extract<Step, { action: "rewrite" }>["rewrite"], why: string): Step => ({ at, action: "rewrite", rewrite, why });
const refuse = (at: number, why: string): Step => ({ at, action: "refuse", why });

const AXES_13 = rewrite(13, "axes-input", "axes moved from an attribute to an input");
const SOFTMAX_13 = rewrite(13, "softmax-axis", "no longer coerces the input to 2-D at axis; default axis 1 became -1");

export const LEGACY_STEPS: Record<string, Step[]> = {
  BatchNormalization: [rewrite(9, "batch-norm-spatial", "spatial removed (1 kept)")],
  Clip: [rewrite(11, "clip-inputs", "min and max moved from attributes to inputs")],
  Dropout: [rewrite(10, "dropout-mask", "mask output became bool"), rewrite(12, "dropout-ratio", "ratio moved to an input, training_mode added")],
  Hardmax: [SOFTMAX_13],
  LogSoftmax: [SOFTMAX_13],
  Pad: [rewrite(11, "pad-inputs", "pads and value moved from attributes to inputs")],
  ReduceSum: [rewrite(13, "reduce-axes", "axes moved from an attribute to an optional input")],
  Resize: [rewrite(11, "resize-10", "coordinate_transformation_mode and nearest_mode added, with defaults other than opset 10's sampling")],
  Scan: [refuse(9, "the batch axis and sequence_lens input were removed")],
  Scatter: [rewrite(11, "scatter-elements", "renamed ScatterElements")],
  Slice: [rewrite(10, "slice-inputs", "starts, ends and axes moved from attributes to inputs")],
  Softmax: [SOFTMAX_13],
  Split: [rewrite(13, "split-input", "split moved from an attribute to an optional input")],
  Squeeze: [AXES_13],
  TopK: [rewrite(10, "topk-input", "k moved from an attribute to an input")],
  Unsqueeze: [AXES_13],
  Upsample: [rewrite(10, "upsample-to-resize", "deprecated for Resize-10")],
};
