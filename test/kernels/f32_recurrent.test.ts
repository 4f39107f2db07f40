// f32_lstm_cell, f32_gru_reset and f32_gru_cell against float64 references of ONNX's LSTM and GRU steps: hidden sizes
// around the 4-lane step and a long row, with and without peepholes, clip and input_forget, both linear_before_reset
// forms, Y written or not; the states updated in place.
import { describe, expect, it } from "vitest";
import { refGruCell, refLstmCell } from "@kernels/reference/f32_recurrent";
import { kernelInstance, tileSizes, uniform } from "@test/support/kernels";

function worstAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < b.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!));
  return a.length === b.length ? e : Infinity;
}

describe("f32_lstm_cell", () => {
  it("matches the float64 LSTM step within 1e-6 (gates and states of magnitude about 1), H around 4 and 512", () => {
    for (const H of [...tileSizes(4), 13, 512]) {
      for (const [peepholes, clip, inputForget] of [[false, Infinity, false], [true, Infinity, false], [true, 1.5, false], [false, 2, true]] as const) {
        const case_ = `H ${H} peepholes ${peepholes} clip ${clip} input_forget ${inputForget}`;
        const xw = uniform(4 * H, H + 1, 4); // pre-activations up to 8 in magnitude: the gates saturate at places
        const g = uniform(4 * H, H + 2, 4);
        const p = peepholes ? uniform(3 * H, H + 3, 1) : null;
        const c = uniform(H, H + 4, 2);
        const want = refLstmCell(H, xw, g, p, clip, inputForget, c);
        const kx = kernelInstance();
        const [xwAt, gAt, cAt] = [kx.put(xw), kx.put(g), kx.put(c)];
        const pAt = p ? kx.put(p) : 0;
        const hAt = kx.alloc(H * 4);
        const yAt = kx.alloc(H * 4);
        kx.k.f32_lstm_cell(H, xwAt, gAt, pAt, clip, inputForget ? 1 : 0, cAt, hAt, yAt);
        expect(worstAbs(kx.f32(cAt, H), want.c), `c, ${case_}`).toBeLessThan(1e-6);
        expect(worstAbs(kx.f32(hAt, H), want.h), `h, ${case_}`).toBeLessThan(1e-6);
        expect(Array.from(kx.f32(yAt, H)), `y, ${case_}`).toEqual(Array.from(kx.f32(hAt, H)));
      }
    }
  });

  it("leaves Y alone when its pointer is 0, and what lies past the row's H units", () => {
    const H = 5;
    const kx = kernelInstance();
    const [xw, g, c] = [uniform(4 * H, 7, 2), uniform(4 * H, 8, 2), uniform(H + 3, 9, 1)];
    const cAt = kx.put(c);
    const hAt = kx.put(new Float32Array(H + 3).fill(7));
    kx.k.f32_lstm_cell(H, kx.put(xw), kx.put(g), 0, Infinity, 0, cAt, hAt, 0);
    expect(Array.from(kx.f32(cAt, H + 3).subarray(H))).toEqual(Array.from(c.subarray(H)));
    expect(Array.from(kx.f32(hAt, H + 3).subarray(H))).toEqual([7, 7, 7]);
    expect(worstAbs(kx.f32(hAt, H), refLstmCell(H, xw, g, null, Infinity, false, c).h)).toBeLessThan(1e-6);
  });
});

describe("f32_gru_reset and f32_gru_cell", () => {
  for (const beforeReset of [true, false]) {
    it(`match the float64 GRU step within 1e-6, linear_before_reset=${beforeReset ? 1 : 0}, H around 4 and 512`, () => {
      for (const H of [...tileSizes(4), 13, 512]) {
        for (const clip of [Infinity, 1.5]) {
          const case_ = `H ${H} clip ${clip}`;
          const xw = uniform(3 * H, H + 1, 4);
          const g = uniform(3 * H, H + 2, 4);
          const h = uniform(H, H + 3, 1);
          // (r * h) Rh^T stands in as a fixed mixing of r * h: the kernels see only its result.
          const mix = (v: ArrayLike<number>) => Float64Array.from({ length: H }, (_, j) => 0.5 * v[j]! - 0.25 * v[(j + 1) % H]!);
          const want = refGruCell(H, xw, g, h, clip, beforeReset ? null : mix);
          const kx = kernelInstance();
          const [xwAt, gAt, hAt] = [kx.put(xw), kx.put(g), kx.put(h)];
          const yAt = kx.alloc(H * 4);
          if (beforeReset) {
            kx.k.f32_gru_cell(H, xwAt, gAt, 0, 0, clip, hAt, yAt);
          } else {
            const [zAt, rhAt] = [kx.alloc(H * 4), kx.alloc(H * 4)];
            kx.k.f32_gru_reset(H, xwAt, gAt, clip, hAt, zAt, rhAt);
            const ghAt = kx.put(Float32Array.from(mix(kx.f32(rhAt, H))));
            kx.k.f32_gru_cell(H, xwAt, gAt, zAt, ghAt, clip, hAt, yAt);
          }
          expect(worstAbs(kx.f32(hAt, H), want), `h, ${case_}`).toBeLessThan(1e-6);
          expect(Array.from(kx.f32(yAt, H)), `y, ${case_}`).toEqual(Array.from(kx.f32(hAt, H)));
        }
      }
    });
  }
});
