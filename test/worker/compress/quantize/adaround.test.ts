// AdaRound rounding: every weight at its grid's floor or ceiling, chosen to lower the layer's output error on the
// calibration inputs (measured here from the inputs themselves, not through the Hessian the rounding reads): never
// above nearest rounding's, most of the way to the best up/down choice an exhaustive search finds on small layers,
// and within 2x of GPTQ's; pruned zeros stay zero and sign grids keep signs.
import { describe, expect, it } from "vitest";
import { affineGrid, nearestLevels, quantizeAffine, type Grouping } from "@worker/compress/quantize/affine";
import { adaroundRounding } from "@worker/compress/quantize/adaround";
import { gptqRounding } from "@worker/compress/quantize/gptq";
import { compressionKernelModule, provideCompressionKernels } from "@worker/compress/simd-quantize";
import { correlated, hessianOf, outputError, seededWeights } from "@test/support/hessians";
import type { GemmLayout } from "@worker/onnx/operators";

const matmul = (k: number, n: number): GemmLayout => ({ groups: 1, K: k, N: n, kStride: n, nStride: 1, groupStride: k * n });

describe("AdaRound rounding", () => {
  const cases: { bits: number; grouping: Grouping }[] = [
    { bits: 4, grouping: { kind: "channel", axis: 1 } },
    { bits: 4, grouping: { kind: "block", axis: 0, block: 16 } },
    { bits: 2, grouping: { kind: "block", axis: 0, block: 16 } },
  ];

  it("lowers the output error on the calibration inputs below nearest rounding's, about as far as GPTQ", () => {
    const [k, n] = [48, 12];
    const ratios: number[] = [];
    for (const c of cases)
      for (const seed of [1, 2, 3]) {
        const w = seededWeights(k, n, seed);
        const x = correlated(400, k, seed + 30);
        const h = hessianOf(x, k);
        const err = (round?: Parameters<typeof quantizeAffine>[5]) => outputError(x, w, quantizeAffine(w, [k, n], c.grouping, c.bits, true, round).reconstructed, k, n);
        const nearest = err();
        const ada = err(adaroundRounding(h, matmul(k, n)));
        const gptq = err(gptqRounding(h, matmul(k, n)));
        const label = `${c.bits}-bit ${c.grouping.kind} seed ${seed}`;
        expect(ada, label).toBeLessThan(nearest);
        ratios.push(ada / gptq);
      }
    console.log(JSON.stringify({ adaroundOverGptq: ratios.map((r) => +r.toFixed(2)) }));
    // Up or down only, where GPTQ may move a weight several levels: on a par at 4 bits, behind at 2.
    expect(Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length)).toBeLessThan(1.5);
  });

  it("closes most of the gap between nearest rounding and the best up/down choice (exhaustive search) on 12-input outputs", () => {
    const [k, n] = [12, 3];
    const total = { best: 0, adaround: 0, nearest: 0 };
    for (const seed of [4, 5, 6]) {
      const w = seededWeights(k, n, seed);
      const x = correlated(200, k, seed + 50);
      const h = hessianOf(x, k);
      const grid = affineGrid(w, [k, n], { kind: "channel", axis: 1 }, 4, true);
      const levels = adaroundRounding(h, matmul(k, n))(w, grid).levels;
      for (let o = 0; o < n; o++) {
        const s = grid.scales[grid.index[o]!]!;
        const column = (pick: (i: number) => number) => {
          const wq = new Float32Array(k * n);
          const wc = new Float32Array(k * n);
          for (let i = 0; i < k; i++) {
            wq[i * n + o] = pick(i) * s;
            wc[i * n + o] = w[i * n + o]!;
          }
          return outputError(x, wc, wq, k, n);
        };
        let best = Infinity;
        for (let mask = 0; mask < 1 << k; mask++) best = Math.min(best, column((i) => Math.min(7, Math.max(-7, Math.floor(w[i * n + o]! / s) + ((mask >> i) & 1)))));
        const got = column((i) => levels[i * n + o]!);
        const near = column((i) => nearestLevels(w, grid).levels[i * n + o]!);
        expect(got, `seed ${seed} output ${o}`).toBeLessThanOrEqual(near);
        total.best += best;
        total.adaround += got;
        total.nearest += near;
      }
    }
    // Measured: 89% of the gap over these 9 outputs (best 0.33, AdaRound 0.74, nearest 4.04).
    expect((total.nearest - total.adaround) / (total.nearest - total.best)).toBeGreaterThan(0.75);
  });
});

describe("AdaRound on special grids", () => {
  it("keeps pruned zeros at zero, and a sign grid's levels at -1 and +1", () => {
    const [k, n] = [32, 6];
    const w = seededWeights(k, n, 9).map((v, i) => (i % 3 === 0 ? 0 : v));
    const x = correlated(300, k, 77);
    const h = hessianOf(x, k);
    const grid = affineGrid(w, [k, n], { kind: "channel", axis: 1 }, 4, true);
    const levels = adaroundRounding(h, matmul(k, n))(w, grid).levels;
    for (let i = 0; i < w.length; i++) if (w[i] === 0) expect(levels[i]).toBe(0);
    const signs = { ...grid, qmin: -1, qmax: 1, signOnly: true };
    expect([...adaroundRounding(h, matmul(k, n))(seededWeights(k, n, 10), signs).levels].every((v) => v === 1 || v === -1)).toBe(true);
  });
});

describe("AdaRound's Hessian product", () => {
  it("on the kernels' fp32 GEMM (a layer of 2M multiply-adds a step) ends within 5% of the float64 product's error, below nearest", () => {
    const [k, n] = [128, 128];
    const w = seededWeights(k, n, 11);
    const x = correlated(400, k, 12);
    const h = hessianOf(x, k);
    const grouping: Grouping = { kind: "block", axis: 0, block: 32 };
    const err = () => outputError(x, w, quantizeAffine(w, [k, n], grouping, 4, true, adaroundRounding(h, matmul(k, n))).reconstructed, k, n);
    const onKernels = err(); // the unit tests provide compression the kernels module
    const module = compressionKernelModule();
    provideCompressionKernels(undefined);
    let inJs: number;
    try {
      inJs = err();
    } finally {
      provideCompressionKernels(module);
    }
    const nearest = outputError(x, w, quantizeAffine(w, [k, n], grouping, 4, true).reconstructed, k, n);
    expect(module).toBeDefined();
    expect(onKernels).toBeLessThan(nearest);
    expect(Math.abs(onKernels - inJs) / inJs).toBeLessThan(0.05);
  });
});
