// What each bit-width module provides: the encoded initializers and nodes that replace one float weight by a
// standard ONNX form producing the same-shaped float tensor, plus numbers for the report.
import type { NodeProto, TensorProto } from "onnx-buf";
import type { GemmLayout, WeightLayout } from "../../onnx/operators";
import type { QuantizationError } from "./weights";
import type { LevelRounding } from "./affine";

export interface WeightToEncode {
  name: string;
  dims: number[];
  data: Float32Array;
  /**
   * The same values as little-endian float32 bytes when the weight stores raw_data: a view into the model (maybe
   * unaligned; never written). Encoders that copy the weight anyway read this and skip the aligned copy `data` is.
   */
  rawData?: Uint8Array;
  /** Where the weight's channels lie (the operator table's layout). */
  slot: WeightLayout;
  /** The weight as its layer's matrix products (the operator table's view), where it has one. */
  gemm?: GemmLayout | null;
  opset: number;
  /** How levels are chosen on the encoding's grid (error-compensating rounding); nearest when absent. */
  rounding?: LevelRounding;
  /** Fresh graph-unique names. */
  fresh(wanted: string): string;
}

/** What a codebook weight stores, for the report. */
export interface CodebookReport {
  scope: "per-layer" | "per-channel";
  /** Entries per codebook (2^bits). */
  centroids: number;
  codebooks: number;
  /** Width of the stored index elements: the narrowest of 2, 4 and 8 that the model's opset offers and holds bits. */
  indexBits: number;
  indexBytes: number;
  codebookBytes: number;
  /** Product quantization: the length of the sub-vectors each index stands for. */
  subvector?: number;
}

export interface EncodedWeight {
  initializers: TensorProto[];
  nodes: NodeProto[];
  /** Name of the float tensor that replaces the weight. */
  output: string;
  /** Error of the weight as the encoded form reconstructs it (for the report). */
  error: QuantizationError;
  scales: Float32Array | number[];
  /** Axis the scales run along (-1 for none). */
  axis: number;
  /** What a codebook encoding stores (codebook.ts). */
  codebook?: CodebookReport;
}

export interface WeightEncoding {
  bits: number;
  /** Why this weight cannot be encoded (it then stays float), or null. */
  unsupported(weight: WeightToEncode): string | null;
  encode(weight: WeightToEncode): EncodedWeight;
}

/** Shape [C, 1, ..., 1] that broadcasts a per-channel vector along `axis` of a rank-`rank` tensor. */
export function broadcastShape(channels: number, axis: number, rank: number): number[] {
  return [channels, ...new Array<number>(rank - axis - 1).fill(1)];
}
