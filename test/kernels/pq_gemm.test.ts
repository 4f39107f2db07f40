// pq_gemm_wasmsimd (product-quantized weights: per row, a table of the row's dot products with every codebook entry
// in every sub-space, then one lookup per sub-vector and output) against the scalar reference over sub-vector lengths,
// codebook sizes around its 16- and 4-entry steps, rows, inputs and outputs, with and without scale, bias and clamp;
// and packPq, which finds that structure in a float weight (and nothing in one without it).
import { describe, expect, it } from "vitest";
import { refPqGemm } from "@kernels/reference/pq_gemm";
import { packPq, padded, weightMatrix, PQ_MAX_ENTRIES } from "@worker/serve/wasm/packing";
import { kernelInstance, relError, tileSizes, uniform } from "@test/support/kernels";

/** Seeded codebook indices in [0, entries). */
function indices(n: number, seed: number, entries: number): Uint16Array {
  return Uint16Array.from(uniform(n, seed, 1), (v) => Math.min(entries - 1, Math.floor(((v + 1) / 2) * entries)));
}

/** A [K, N] ("kn") float weight whose column n, sub-vector b is book entry idx[n * B + b]. */
function pqWeight(K: number, N: number, d: number, book: Float32Array, idx: ArrayLike<number>): Float32Array {
  const B = K / d;
  const w = new Float32Array(K * N);
  for (let n = 0; n < N; n++) for (let b = 0; b < B; b++) for (let j = 0; j < d; j++) w[(b * d + j) * N + n] = book[idx[n * B + b]! * d + j]!;
  return w;
}

function run(M: number, K: number, N: number, d: number, entries: number, opts: { scale?: boolean; bias?: boolean; lo?: number; hi?: number } = {}) {
  const { lo = -Infinity, hi = Infinity } = opts;
  const A = uniform(M * K, M * 5 + K, 2);
  const book = uniform(entries * d, entries + d, 0.5);
  const idx = indices(N * (K / d), K * 13 + N, entries);
  const scale = opts.scale ? uniform(N, N + 3, 1).map((v) => Math.abs(v) + 0.1) : null;
  const bias = opts.bias ? uniform(N, N + 7, 1) : null;
  const packed = packPq(weightMatrix(pqWeight(K, N, d, book, idx), K, N, "kn"));
  const kx = kernelInstance();
  const c = kx.alloc(M * N * 4);
  if (packed) {
    kx.k.pq_gemm_wasmsimd(M, K, N, packed.d, packed.kp, kx.put(A), K, kx.put(packed.idx), kx.put(packed.bookT), scale ? kx.put(padded(scale, N)) : 0, bias ? kx.put(padded(bias, N)) : 0, c, N, lo, hi, kx.alloc((K / packed.d) * packed.kp * 4));
  }
  return { packed, got: kx.f32(c, M * N).slice(), want: refPqGemm(M, K, N, d, A, idx, book, scale, bias, lo, hi) };
}

describe("pq_gemm_wasmsimd", () => {
  it("matches the scalar reference within 1e-5 (relative to the largest output) over sub-vector lengths, codebook sizes and shapes", () => {
    for (const d of [4, 8, 16])
      for (const entries of [5, 16, 17, 64, 256])
        for (const M of tileSizes(4))
          for (const N of [entries * 2, entries * 4 + 3]) {
            const K = d * (2 + ((M + N) % 7)); // at least two sub-vectors a column: 4 uses per entry
            const { packed, got, want } = run(M, K, N, d, entries, { scale: (M + N) % 2 === 0, bias: (M + K) % 2 === 1 });
            expect(packed, `${M}x${K}x${N} d ${d}, ${entries} entries`).not.toBeNull();
            expect(relError(got, want), `${M}x${K}x${N} d ${d}, ${entries} entries`).toBeLessThan(1e-5);
          }
  });

  it("clamps to [lo, hi] after scale and bias", () => {
    const { got, want } = run(6, 32, 80, 8, 20, { scale: true, bias: true, lo: 0, hi: 0.5 });
    expect(relError(got, want)).toBeLessThan(1e-5);
    expect(Math.min(...got)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...got)).toBeLessThanOrEqual(0.5);
  });
});

describe("packPq", () => {
  it("recovers the sub-vector length, the distinct entries and each sub-vector's index", () => {
    const d = 8;
    const book = uniform(40 * d, 1, 1);
    const idx = indices(96 * 4, 2, 40);
    const packed = packPq(weightMatrix(pqWeight(32, 96, d, book, idx), 32, 96, "kn"))!;
    expect(packed).toMatchObject({ d: 8, kp: 40 });
    // Entries are numbered by first use: each column's sub-vector reads back as the book entry it was made from.
    for (let p = 0; p < idx.length; p++)
      for (let j = 0; j < d; j++) expect(packed.bookT[j * packed.kp + packed.idx[p]!]).toBe(book[idx[p]! * d + j]);
  });

  it("finds nothing in a weight without repeated sub-vectors, in one with more than 256, or where entries are used fewer than 4 times on average", () => {
    expect(packPq(weightMatrix(uniform(64 * 64, 3, 1), 64, 64, "kn"))).toBeNull();
    const d = 4;
    const many = indices(128 * 16, 4, PQ_MAX_ENTRIES + 1);
    expect(packPq(weightMatrix(pqWeight(64, 128, d, uniform((PQ_MAX_ENTRIES + 1) * d, 5, 1), many), 64, 128, "kn"))).toBeNull();
    const few = Array.from({ length: 8 * 2 }, (_, i) => i % 5); // 16 sub-vectors over 5 entries: 3.2 uses each
    expect(packPq(weightMatrix(pqWeight(8, 8, d, uniform(5 * d, 6, 1), few), 8, 8, "kn"))).toBeNull();
  });
});
