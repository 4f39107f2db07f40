// The bench's pruned models: the 90% 1x16 block-pruned versions (by magnitude) of its MLP and CNN, which stand in
// for a pruning recipe. The models themselves are built with the test models (test/support/models.ts).
import type { ModelProto } from "onnx-buf";
import { DT } from "../worker/onnx/dtype";
import { makeTensor, readFloat32 } from "../worker/onnx/tensor";
import { intAttribute } from "../worker/onnx/attributes";

/**
 * Zeroes `fraction` of the 1x16 blocks (one input, 16 consecutive output channels) of every MatMul/Gemm/Conv weight
 * with more than 16 output channels, smallest L1 norm first.
 */
export function blockPrune(model: ModelProto, fraction: number): ModelProto {
  const g = model.graph!;
  const layouts = new Map<string, { K: number; N: number; index: (k: number, n: number) => number }>();
  for (const n of g.node) {
    const t = g.initializer.find((i) => i.name === n.input[1]);
    if (!t) continue;
    const d = t.dims.map(Number);
    if (n.opType === "MatMul" && d.length === 2) layouts.set(t.name, { K: d[0]!, N: d[1]!, index: (k, c) => k * d[1]! + c });
    if (n.opType === "Gemm" && d.length === 2) {
      const tb = intAttribute(n, "transB", 0) === 1;
      const [K, N] = tb ? [d[1]!, d[0]!] : [d[0]!, d[1]!];
      layouts.set(t.name, { K, N, index: tb ? (k, c) => c * K + k : (k, c) => k * N + c });
    }
    if (n.opType === "Conv" && d.length === 4) {
      const K = d[1]! * d[2]! * d[3]!;
      layouts.set(t.name, { K, N: d[0]!, index: (k, c) => c * K + k });
    }
  }
  const initializer = g.initializer.map((t) => {
    const l = layouts.get(t.name);
    if (!l || l.N <= 16) return t;
    const w = readFloat32(t);
    const blocks: { k: number; n0: number; norm: number }[] = [];
    for (let k = 0; k < l.K; k++)
      for (let n0 = 0; n0 < l.N; n0 += 16) {
        let norm = 0;
        for (let c = n0; c < Math.min(l.N, n0 + 16); c++) norm += Math.abs(w[l.index(k, c)]!);
        blocks.push({ k, n0, norm });
      }
    blocks.sort((a, b) => a.norm - b.norm);
    for (const b of blocks.slice(0, Math.round(blocks.length * fraction)))
      for (let c = b.n0; c < Math.min(l.N, b.n0 + 16); c++) w[l.index(b.k, c)] = 0;
    return makeTensor(t.name, DT.FLOAT, t.dims.map(Number), w);
  });
  return { ...model, graph: { ...g, initializer } };
}
