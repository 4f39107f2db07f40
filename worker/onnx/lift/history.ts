// What each standard (ai.onnx) operator's new versions from opset 14 to 25 mean for a node written at an older
// opset, so that a model from opset 13 up (from 7 up after legacy-history.ts) can be lifted to 21 (blocked/INT4
// DequantizeLinear) or 25 (INT2).
// Read from ONNX's operator changelog (docs/Changelog.md, the operator_sets.h version lists, release notes of
// 1.9-1.20); 14-17 were also checked attribute by attribute against onnx 1.12's schemas. Each step is one of:
//   same    - only types were added, or attributes/optional inputs whose defaults keep the old meaning;
//   rewrite - the old meaning is kept by a mechanical rewrite of the node (worker/onnx/lift/rewrites/);
//   refuse  - the meaning changed and no rewrite is known, so models using the op are not lifted.
// An op missing here, introduced after the model's opset or removed before it is refused too: a wrong "same"
// silently changes a user's model, so when in doubt an entry refuses.
import type { RewriteKind } from "./rewrites";

export type Step =
  | { at: number; action: "same"; why: string }
  | { at: number; action: "rewrite"; rewrite: RewriteKind; why: string }
  | { at: number; action: "refuse"; why: string };

export interface OpHistory {
  /** The opset that introduced the op. */
  since: number;
  /** The opset whose version no longer exists (deprecated ops), if any. */
  removed?: number;
  /** Version changes from opset 14 on, in order. */
  steps: Step[];
}

const same = (at: number, why: string): Step => ({ at, action: "same", why });
const rewrite = (at: number, kind: RewriteKind, why: string): Step => ({ at, action: "rewrite", rewrite: kind, why });
const refuse = (at: number, why: string): Step => ({ at, action: "refuse", why });
const op = (since: number, ...steps: Step[]): OpHistory => ({ since, steps });

// Repeated type-only updates.
const BF16_22 = same(22, "bfloat16 added");
const TYPES_14 = same(14, "8/16-bit integer or bfloat16 types added");
const TYPES_16 = same(16, "bfloat16 (or optional/sequence) types added");
/** Opset 21/23/24/25 added int4/uint4 (and float8), float4e2m1, float8e8m0 and int2/uint2 to the data-movement ops. */
const NEW_ELEMENT_TYPES = [
  same(21, "int4/uint4 types added"),
  same(23, "float4e2m1 type added"),
  same(24, "float8e8m0 type added"),
  same(25, "int2/uint2 types added"),
];
const WITH_19 = [same(19, "float8 types added"), ...NEW_ELEMENT_TYPES];
const REDUCE_AXES = rewrite(18, "reduce-axes", "axes moved from an attribute to an optional input (noop_with_empty_axes defaults to the old reduce-all)");

export const OP_HISTORY: Record<string, OpHistory> = {
  Abs: op(1),
  Acos: op(7, BF16_22),
  Acosh: op(9, BF16_22),
  Add: op(1, TYPES_14),
  AffineGrid: op(20),
  And: op(1),
  ArgMax: op(1),
  ArgMin: op(1),
  Asin: op(7, BF16_22),
  Asinh: op(9, BF16_22),
  Atan: op(7, BF16_22),
  Atanh: op(9, BF16_22),
  // Attention-24 added the in-place KV-cache inputs and reworked how past/present and masks combine.
  Attention: op(23, refuse(24, "KV-cache inputs and outputs were redefined")),
  AveragePool: op(1, same(19, "dilations added, default 1"), BF16_22),
  // BatchNormalization-9's optional outputs were training statistics; at 14 they are running_mean/var only in
  // training_mode. An inference node (one output) computes the same.
  BatchNormalization: op(1, rewrite(14, "batch-norm-inference", "training outputs redefined (training_mode added, default 0)"), same(15, "scale/bias and mean/var types split")),
  Bernoulli: op(15, BF16_22),
  BitShift: op(11),
  BitwiseAnd: op(18),
  BitwiseNot: op(18),
  BitwiseOr: op(18),
  BitwiseXor: op(18),
  BlackmanWindow: op(17),
  // Cast-19's `saturate` and Cast-24's `round_mode` apply only to float8 targets, which older opsets lack.
  Cast: op(1, ...WITH_19),
  CastLike: op(15, ...WITH_19),
  Ceil: op(1),
  Celu: op(12),
  CenterCropPad: op(18),
  Clip: op(1),
  Col2Im: op(18),
  Compress: op(9),
  Concat: op(1),
  ConcatFromSequence: op(11),
  Constant: op(1, ...WITH_19),
  ConstantOfShape: op(9, same(20, "float8 and bfloat16 types added"), ...NEW_ELEMENT_TYPES),
  Conv: op(1, BF16_22),
  ConvInteger: op(10),
  ConvTranspose: op(1, BF16_22),
  Cos: op(7, BF16_22),
  Cosh: op(9, BF16_22),
  CumSum: op(11, TYPES_14),
  DeformConv: op(19, BF16_22),
  DepthToSpace: op(1),
  // DequantizeLinear-21's block_size defaults to 0 (per-tensor/per-axis as before); 23's output_dtype defaults to
  // the scale's type.
  DequantizeLinear: op(10, same(19, "float8 inputs and float16/bfloat16 scales added"), same(21, "block_size added, default 0 keeps per-axis"), ...NEW_ELEMENT_TYPES.slice(1)),
  Det: op(11, BF16_22),
  // DFT-20 takes axis as an input whose default (-2) differs from DFT-17's attribute default (1).
  DFT: op(17, rewrite(20, "dft-axis", "axis moved from an attribute (default 1) to an input (default -2)")),
  Div: op(1, TYPES_14),
  Dropout: op(1, BF16_22),
  DynamicQuantizeLinear: op(11),
  Einsum: op(12),
  Elu: op(1, BF16_22),
  Equal: op(1, same(19, "string type added")),
  Erf: op(9),
  Exp: op(1),
  Expand: op(8),
  EyeLike: op(9, BF16_22),
  Flatten: op(1, ...NEW_ELEMENT_TYPES),
  Floor: op(1),
  Gather: op(1),
  GatherElements: op(11),
  GatherND: op(11),
  Gelu: op(20),
  Gemm: op(1),
  GlobalAveragePool: op(1, BF16_22),
  GlobalLpPool: op(1, BF16_22),
  GlobalMaxPool: op(1, BF16_22),
  Greater: op(1),
  GreaterOrEqual: op(12, TYPES_16),
  // GridSample-20 renamed the modes (bilinear -> linear, bicubic -> cubic) and allows N-d inputs.
  GridSample: op(16, rewrite(20, "grid-sample-mode", "modes renamed: bilinear -> linear, bicubic -> cubic"), BF16_22),
  // GroupNormalization-21 takes per-channel scale and bias where 18 took per-group ones: not the same function.
  GroupNormalization: op(18, refuse(21, "scale and bias changed from per-group to per-channel")),
  GRU: op(1, same(14, "layout added, default 0"), BF16_22),
  HammingWindow: op(17),
  HannWindow: op(17),
  Hardmax: op(1),
  HardSigmoid: op(1, BF16_22),
  HardSwish: op(14, BF16_22),
  Identity: op(1, same(14, "sequence types added"), TYPES_16, ...WITH_19),
  If: op(1, TYPES_16, ...WITH_19),
  ImageDecoder: op(20),
  InstanceNormalization: op(1, BF16_22),
  IsInf: op(10, same(20, "float8 and bfloat16 types added")),
  IsNaN: op(9, same(20, "float8 and bfloat16 types added")),
  LayerNormalization: op(17),
  LeakyRelu: op(1, TYPES_16),
  Less: op(1),
  LessOrEqual: op(12, TYPES_16),
  Log: op(1),
  LogSoftmax: op(1),
  Loop: op(1, TYPES_16, ...WITH_19),
  LpNormalization: op(1, BF16_22),
  LpPool: op(1, same(18, "ceil_mode (default 0) and dilations (default 1) added"), BF16_22),
  LRN: op(1),
  LSTM: op(1, same(14, "layout added, default 0"), BF16_22),
  MatMul: op(1),
  MatMulInteger: op(10),
  Max: op(1),
  MaxPool: op(1, BF16_22),
  MaxRoiPool: op(1, BF16_22),
  MaxUnpool: op(9, BF16_22),
  Mean: op(1),
  MeanVarianceNormalization: op(9),
  MelWeightMatrix: op(17),
  Min: op(1),
  Mish: op(18, BF16_22),
  Mod: op(10),
  Mul: op(1, TYPES_14),
  Multinomial: op(7, BF16_22),
  Neg: op(1),
  NegativeLogLikelihoodLoss: op(12, BF16_22),
  NonMaxSuppression: op(10),
  NonZero: op(9),
  Not: op(1),
  OneHot: op(9),
  Optional: op(15),
  OptionalGetElement: op(15, same(18, "plain tensor and sequence inputs accepted")),
  OptionalHasElement: op(15, same(18, "plain tensor and sequence inputs accepted")),
  Or: op(1),
  // Pad-18's optional `axes` input defaults to all axes; 19 adds the `wrap` mode.
  Pad: op(1, same(18, "optional axes input added, default all axes"), same(19, "wrap mode added"), ...NEW_ELEMENT_TYPES),
  Pow: op(1, same(15, "bfloat16 exponent added")),
  PRelu: op(1, TYPES_16),
  QLinearConv: op(10),
  QLinearMatMul: op(10, same(21, "float8 inputs and float16/bfloat16 scales added")),
  // QuantizeLinear-19 `saturate` (float8 only), 21 block_size/output_dtype (defaults: per-axis, type of the zero
  // point), 23 `precision` (default: the scale's type) all keep the old computation.
  QuantizeLinear: op(10, same(19, "float8 outputs and saturate added"), same(21, "block_size and output_dtype added, defaults keep the old form"), same(23, "precision added, default the scale's type"), ...NEW_ELEMENT_TYPES.slice(2)),
  RandomNormal: op(1, BF16_22),
  RandomNormalLike: op(1, BF16_22),
  RandomUniform: op(1, BF16_22),
  RandomUniformLike: op(1, BF16_22),
  Range: op(11),
  Reciprocal: op(1),
  RNN: op(1, same(14, "layout added, default 0"), BF16_22),
  ReduceL1: op(1, REDUCE_AXES),
  ReduceL2: op(1, REDUCE_AXES),
  ReduceLogSum: op(1, REDUCE_AXES),
  ReduceLogSumExp: op(1, REDUCE_AXES),
  ReduceMax: op(1, REDUCE_AXES, same(20, "bool type added")),
  ReduceMean: op(1, REDUCE_AXES),
  ReduceMin: op(1, REDUCE_AXES, same(20, "bool type added")),
  ReduceProd: op(1, REDUCE_AXES),
  // ReduceSum took axes as an input already at 13.
  ReduceSum: op(1),
  ReduceSumSquare: op(1, REDUCE_AXES),
  RegexFullMatch: op(20),
  Relu: op(1, TYPES_14),
  Reshape: op(1, same(14, "allowzero added, default 0"), ...WITH_19),
  // Resize-18's antialias (0), axes (all) and keep_aspect_ratio_policy (stretch), 19's half_pixel_symmetric mode.
  Resize: op(10, same(18, "antialias, axes and keep_aspect_ratio_policy added, defaults keep the old result"), same(19, "half_pixel_symmetric mode added")),
  ReverseSequence: op(10),
  RMSNormalization: op(23),
  // RoiAlign-16's default coordinate_transformation_mode (half_pixel) is not what RoiAlign-10 computed
  // (output_half_pixel).
  RoiAlign: op(10, rewrite(16, "roi-align-mode", "coordinate_transformation_mode added with a different default"), BF16_22),
  RotaryEmbedding: op(23),
  Round: op(11, BF16_22),
  Scan: op(8, TYPES_16, ...WITH_19),
  Scatter: { since: 9, removed: 11, steps: [] },
  ScatterElements: op(11, same(16, "reduction added, default none"), same(18, "max/min reductions added")),
  ScatterND: op(11, same(16, "reduction added, default none"), same(18, "max/min reductions added")),
  Selu: op(1, BF16_22),
  SequenceAt: op(11),
  SequenceConstruct: op(11),
  SequenceEmpty: op(11),
  SequenceErase: op(11),
  SequenceInsert: op(11),
  SequenceLength: op(11),
  SequenceMap: op(17),
  Shape: op(1, same(15, "start/end added, defaults the whole shape"), ...WITH_19),
  Shrink: op(9),
  Sigmoid: op(1),
  Sign: op(9),
  Sin: op(7, BF16_22),
  Sinh: op(9, BF16_22),
  Size: op(1, ...WITH_19),
  Slice: op(1),
  Softmax: op(1),
  SoftmaxCrossEntropyLoss: op(12),
  Softplus: op(1, BF16_22),
  Softsign: op(1, BF16_22),
  SpaceToDepth: op(1),
  // Split-18 needs num_outputs when the split sizes are not given.
  Split: op(1, rewrite(18, "split-outputs", "num_outputs required when no split input is given")),
  SplitToSequence: op(11, same(24, "bfloat16 added")),
  Sqrt: op(1),
  Squeeze: op(1, ...NEW_ELEMENT_TYPES),
  StringConcat: op(20),
  StringNormalizer: op(10),
  StringSplit: op(20),
  STFT: op(17),
  Sub: op(1, TYPES_14),
  Sum: op(1),
  Swish: op(24),
  Tan: op(7, BF16_22),
  Tanh: op(1),
  TensorScatter: op(24),
  TfIdfVectorizer: op(9),
  ThresholdedRelu: op(10, BF16_22),
  Tile: op(1),
  TopK: op(1, same(24, "bfloat16 added")),
  Transpose: op(1, ...NEW_ELEMENT_TYPES),
  Trilu: op(14),
  Unique: op(11),
  Unsqueeze: op(1, ...NEW_ELEMENT_TYPES),
  Upsample: { since: 7, removed: 10, steps: [] },
  Where: op(9, TYPES_16),
  Xor: op(1),
};

/**
 * Versions that mean the same but that onnxruntime 1.30 (node and web; what serves and checks variants) has no
 * kernel for: a model lifted past them would no longer load, so lifting past them is refused. Found by loading a
 * one-node model per op and version (the "Could not find an implementation" error).
 */
export const RUNTIME_GAPS: Record<string, number> = {
  Bernoulli: 22,
  GlobalLpPool: 22,
  MaxRoiPool: 22,
  Multinomial: 22,
  RandomNormal: 22,
  RandomNormalLike: 22,
  RandomUniform: 22,
  RandomUniformLike: 22,
  RoiAlign: 22,
};
