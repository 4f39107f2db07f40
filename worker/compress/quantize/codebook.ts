// Codebook encoding (k-means weight sharing, Deep Compression's quantization): each weight becomes the index of its
// nearest centroid in a float codebook of 2^bits values, one codebook per tensor or per output channel. Standard
// ONNX reads it back: the indices (UINT8, or packed UINT4/UINT2 behind a unit DequantizeLinear where the opset has
// them) are cast to INT64, offset by channel * 2^bits for per-channel codebooks, and Gather picks the values.
import { makeNode } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { packInt2, packInt4 } from "../../onnx/encoding";
import { channelLayout, makeTensor } from "../../onnx/tensor";
import type { Codebook } from "../recipe";
import { broadcastShape, type CodebookReport, type WeightEncoding, type WeightToEncode } from "./encoding";
import { assignNearest, kmeans1d } from "./kmeans";
import { quantizationError } from "./weights";

export interface CodebookOptions extends Codebook {
  /**
   * Exact zeros (pruned weights) keep the value 0 and stay out of the clusters, as in Deep Compression: index 0 of
   * the codebook is 0. Tensors whose zeros would fill a cluster of their own are treated so without it.
   */
  exactZeros: boolean;
}

/** Index element width for `bits`-bit indices at `opset`: UINT2 (opset 25), UINT4 (opset 21), else UINT8. */
export function indexContainer(bits: number, opset: number): 2 | 4 | 8 {
  if (bits <= 2 && opset >= 25) return 2;
  if (bits <= 4 && opset >= 21) return 4;
  return 8;
}

/**
 * Indices (0..2^width - 1, shaped `dims`) stored in `container` bits each, and the nodes that read them back as INT64:
 * a Cast for UINT8; sub-byte integers through a unit DequantizeLinear first (Cast from UINT4/UINT2 is not universal).
 */
export function indexTensors(w: WeightToEncode, prefix: string, indices: Uint8Array, dims: readonly number[], container: 2 | 4 | 8) {
  const idxName = w.fresh(`${w.name}_${prefix}_index`);
  const output = w.fresh(`${w.name}_${prefix}_index_int64`);
  const cast = (input: string) => makeNode("Cast", [input], [output], w.fresh(`${w.name}_${prefix}_cast`), { to: DT.INT64 });
  if (container === 8) return { initializers: [makeTensor(idxName, DT.UINT8, dims, indices)], nodes: [cast(idxName)], output };
  const packed = container === 4 ? packInt4(new Int8Array(indices.buffer, indices.byteOffset, indices.length)) : packInt2(Array.from(indices, (u) => (u >= 2 ? u - 4 : u)));
  const unitName = w.fresh(`${w.name}_${prefix}_unit`);
  const floatName = w.fresh(`${w.name}_${prefix}_index_float`);
  return {
    initializers: [makeTensor(idxName, container === 4 ? DT.UINT4 : DT.UINT2, dims, packed), makeTensor(unitName, DT.FLOAT, [], new Float32Array([1]))],
    nodes: [makeNode("DequantizeLinear", [idxName, unitName], [floatName], w.fresh(`${w.name}_${prefix}_widen`)), cast(floatName)],
    output,
  };
}

/** One group's codebook (exactly `k` entries, padded with its last value) and each value's index into it. */
function clusterGroup(values: Float32Array, k: number, options: CodebookOptions): { codebook: Float32Array; indices: Uint8Array } {
  let zeros = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) zeros++;
  const reserve = zeros > 0 && (options.exactZeros || zeros * k >= values.length);
  const codebook = new Float32Array(k);
  const indices = new Uint8Array(values.length);
  if (!reserve) {
    const { centroids } = kmeans1d(values, k, options.seed, options.iterations);
    codebook.set(centroids);
    codebook.fill(centroids[centroids.length - 1] ?? 0, centroids.length);
    assignNearest(values, centroids, indices);
    return { codebook, indices };
  }
  const nonzero = values.filter((v) => v !== 0);
  const { centroids } = kmeans1d(nonzero, k - 1, options.seed, options.iterations);
  codebook.set(centroids, 1);
  codebook.fill(centroids[centroids.length - 1] ?? 0, 1 + centroids.length);
  const nearest = assignNearest(nonzero, centroids);
  for (let i = 0, j = 0; i < values.length; i++) indices[i] = values[i] === 0 ? 0 : 1 + nearest[j++]!;
  return { codebook, indices };
}

export function codebookEncoding(options: CodebookOptions): WeightEncoding {
  const k = 2 ** options.bits;
  return {
    bits: options.bits,
    unsupported(w) {
      // Known from the shape alone, before any clustering: codebooks that would outweigh the float weight.
      const n = w.dims.reduce((a, b) => a * b, 1);
      const codebooks = options.scope === "per-layer" ? 1 : (w.dims[w.slot.outAxis] ?? 1);
      const bytes = codebooks * k * 4 + Math.ceil((n * indexContainer(options.bits, w.opset)) / 8);
      return bytes >= n * 4 ? `${codebooks} codebook(s) of ${k} floats and their indices (${bytes} bytes) would outweigh the float weight (${n * 4} bytes)` : null;
    },
    encode(w) {
      const axis = w.slot.outAxis;
      const { outer, channels, inner } = channelLayout(w.dims, axis);
      const data = w.data;
      const indices = new Uint8Array(data.length);
      let codebook: Float32Array;
      if (options.scope === "per-layer") {
        const group = clusterGroup(data, k, options);
        indices.set(group.indices);
        codebook = group.codebook;
      } else {
        codebook = new Float32Array(channels * k);
        const values = new Float32Array(outer * inner);
        for (let c = 0; c < channels; c++) {
          for (let o = 0, j = 0; o < outer; o++) for (let i = 0, base = (o * channels + c) * inner; i < inner; i++) values[j++] = data[base + i]!;
          const group = clusterGroup(values, k, options);
          codebook.set(group.codebook, c * k);
          for (let o = 0, j = 0; o < outer; o++) for (let i = 0, base = (o * channels + c) * inner; i < inner; i++) indices[base + i] = group.indices[j++]!;
        }
      }
      const offset = (at: number) => (options.scope === "per-layer" ? 0 : Math.floor(at / inner) % channels) * k;
      const reconstructed = new Float32Array(data.length);
      for (let f = 0; f < data.length; f++) reconstructed[f] = codebook[offset(f) + indices[f]!]!;

      const container = indexContainer(options.bits, w.opset);
      const bookName = w.fresh(`${w.name}_codebook`);
      const output = w.fresh(`${w.name}_shared`);
      const stored = indexTensors(w, "codebook", indices, w.dims, container);
      const longName = stored.output;
      const initializers = [makeTensor(bookName, DT.FLOAT, [codebook.length], codebook), ...stored.initializers];
      const nodes = [...stored.nodes];
      let gatherIndex = longName;
      if (options.scope === "per-channel") {
        // Channel c's entries start at c * k in the flattened codebook.
        const offsetsName = w.fresh(`${w.name}_codebook_offset`);
        gatherIndex = w.fresh(`${w.name}_codebook_entry`);
        const offsets = BigInt64Array.from({ length: channels }, (_, c) => BigInt(c * k));
        initializers.push(makeTensor(offsetsName, DT.INT64, broadcastShape(channels, axis, w.dims.length), offsets));
        nodes.push(makeNode("Add", [longName, offsetsName], [gatherIndex], w.fresh(`${w.name}_codebook_offset_add`)));
      }
      nodes.push(makeNode("Gather", [bookName, gatherIndex], [output], w.fresh(`${w.name}_codebook_gather`), { axis: 0 }));
      const report: CodebookReport = {
        scope: options.scope,
        centroids: k,
        codebooks: options.scope === "per-layer" ? 1 : channels,
        indexBits: container,
        indexBytes: Math.ceil((data.length * container) / 8),
        codebookBytes: codebook.length * 4,
      };
      return { initializers, nodes, output, error: quantizationError(data, reconstructed), scales: [], axis, codebook: report };
    },
  };
}
