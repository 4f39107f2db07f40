// f32_dwconv2d (direct depthwise convolution, fused bias and clamp), f32_pointwise_4x8 (1x1 convolution on NCHW)
// and f32_col2im (ConvTranspose's gather) against scalar references: the SIMD 3x3 and 5x5 paths at strides 1 and 2
// swept over widths around the 4-column step (a row's last 1-3 columns computed as four, the extra lanes dropped)
// and over paddings, the general SIMD path for other filters and
// dilations at strides 1 and 2 (1-D filters included), the scalar path for wider strides,
// the pointwise tile around its 4 channels, 8 pixels and 64-pixel blocks.
import { describe, expect, it } from "vitest";
import { dwOutputSize, packPointwise, refCol2im, refDwConv2d, refPointwise, type DwShape } from "@kernels/reference/f32_dwconv";
import { kernelInstance, relError, tileSizes, uniform } from "@test/support/kernels";

function runDw(s: DwShape, lo = -Infinity, hi = Infinity, withBias = true) {
  const { OH, OW } = dwOutputSize(s);
  const X = uniform(s.C * s.H * s.W, s.C * 31 + s.H * 7 + s.W, 1);
  const Wt = uniform(s.C * s.kh * s.kw, s.kh * 13 + s.C, 1);
  const bias = withBias ? uniform(s.C, s.C + 5, 1) : null;
  const kx = kernelInstance();
  const PH = (OH - 1) * s.sh + (s.kh - 1) * s.dh + 1;
  const PW = (OW - 1) * s.sw + (s.kw - 1) * s.dw + 1;
  const scratch = kx.alloc((PH * PW + 8) * 4);
  const y = kx.alloc(s.C * OH * OW * 4);
  const x = kx.put(X);
  const w = kx.put(Wt);
  const b = bias ? kx.put(bias) : 0;
  kx.k.f32_dwconv2d(x, s.C, s.H, s.W, w, s.kh, s.kw, s.sh, s.sw, s.pt, s.pl, s.dh, s.dw, OH, OW, b, lo, hi, scratch, y);
  return { got: kx.f32(y, s.C * OH * OW).slice(), want: refDwConv2d(X, Wt, bias, s, lo, hi) };
}

describe("f32_dwconv2d", () => {
  for (const k of [3, 5]) {
    for (const stride of [1, 2]) {
      it(`matches the reference within 1e-5 for ${k}x${k} stride ${stride}, widths around 4, pads 0 to ${k - 1}`, () => {
        for (const W of [...tileSizes(4), 2 * 4 * stride + 3, 17]) {
          for (const pad of [0, (k - 1) >> 1, k - 1]) {
            for (const H of [k, k + 4]) {
              if (W + 2 * pad < k) continue;
              const s: DwShape = { C: 3, H, W, kh: k, kw: k, sh: stride, sw: stride, pt: pad, pl: pad, pb: pad, pr: pad, dh: 1, dw: 1 };
              const { got, want } = runDw(s);
              expect(relError(got, want), JSON.stringify(s)).toBeLessThan(1e-5);
            }
          }
        }
      });
    }
  }

  it("pads asymmetrically (SAME-style: more at the end) and clamps to [lo, hi] (ReLU6)", () => {
    for (const [k, stride] of [[3, 2], [5, 2], [3, 1], [5, 1]] as const) {
      const s: DwShape = { C: 5, H: 14, W: 15, kh: k, kw: k, sh: stride, sw: stride, pt: 0, pl: 0, pb: k - 1, pr: k - 1, dh: 1, dw: 1 };
      const { got, want } = runDw(s, 0, 0.5);
      expect(relError(got, want), `${k} ${stride}`).toBeLessThan(1e-5);
      expect(Math.min(...got)).toBe(0);
      expect(Math.max(...got)).toBe(0.5);
    }
  });

  it("runs other filters and dilations (1-D 1 x 5 dilated, 7 x 7, 3 x 1) at column strides 1 and 2, widths around 4", () => {
    for (const W of [...tileSizes(4), 17, 29]) {
      for (const [kh, kw, dh, dw] of [[1, 5, 1, 1], [1, 5, 1, 2], [1, 5, 1, 4], [7, 7, 1, 1], [3, 1, 1, 1], [3, 3, 2, 2], [2, 3, 1, 3]] as const) {
        for (const stride of [1, 2]) {
          const pl = ((kw - 1) * dw) >> 1;
          const pt = ((kh - 1) * dh) >> 1;
          const s: DwShape = { C: 3, H: kh === 1 ? 1 : 9, W, kh, kw, sh: kh === 1 ? 1 : stride, sw: stride, pt, pl, pb: pt, pr: (kw - 1) * dw - pl, dh, dw };
          if (dwOutputSize(s).OW <= 0 || dwOutputSize(s).OH <= 0) continue;
          const { got, want } = runDw(s, -1, 1.5);
          expect(relError(got, want), JSON.stringify(s)).toBeLessThan(1e-5);
        }
      }
    }
  });

  it("takes the scalar path for column strides over 2, with and without bias", () => {
    const shapes: DwShape[] = [
      { C: 2, H: 9, W: 11, kh: 3, kw: 3, sh: 1, sw: 1, pt: 2, pl: 2, pb: 2, pr: 2, dh: 2, dw: 2 },
      { C: 3, H: 7, W: 10, kh: 7, kw: 7, sh: 1, sw: 1, pt: 3, pl: 3, pb: 3, pr: 3, dh: 1, dw: 1 },
      { C: 2, H: 8, W: 9, kh: 3, kw: 1, sh: 2, sw: 1, pt: 1, pl: 0, pb: 1, pr: 0, dh: 1, dw: 1 },
      { C: 4, H: 10, W: 10, kh: 3, kw: 3, sh: 3, sw: 3, pt: 1, pl: 1, pb: 1, pr: 1, dh: 1, dw: 1 },
      { C: 1, H: 6, W: 6, kh: 1, kw: 1, sh: 1, sw: 1, pt: 0, pl: 0, pb: 0, pr: 0, dh: 1, dw: 1 },
    ];
    for (const s of shapes)
      for (const withBias of [true, false]) {
        const { got, want } = runDw(s, -Infinity, Infinity, withBias);
        expect(relError(got, want), JSON.stringify(s)).toBeLessThan(1e-5);
      }
  });
});

describe("f32_col2im", () => {
  const cases = [
    { kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pl: 1, dh: 1, dw: 1, extra: 1 },
    { kh: 2, kw: 2, sh: 2, sw: 2, pt: 0, pl: 0, dh: 1, dw: 1, extra: 0 },
    { kh: 3, kw: 2, sh: 1, sw: 3, pt: 0, pl: 1, dh: 2, dw: 1, extra: 0 },
    { kh: 4, kw: 4, sh: 3, sw: 2, pt: 2, pl: 1, dh: 1, dw: 2, extra: 2 },
  ];
  for (const c of cases) {
    it(`sums the overlapping taps of ${JSON.stringify(c)} then scales, adds bias and clamps`, () => {
      const [M, IH, IW] = [3, 5, 6];
      const OH = (IH - 1) * c.sh + (c.kh - 1) * c.dh + 1 - 2 * c.pt + c.extra;
      const OW = (IW - 1) * c.sw + (c.kw - 1) * c.dw + 1 - 2 * c.pl + c.extra;
      const N = M * c.kh * c.kw;
      const col = uniform(IH * IW * N, N + IH, 1);
      const scale = uniform(M, 3, 1);
      const bias = uniform(M, 4, 1);
      const kx = kernelInstance();
      const y = kx.alloc(M * OH * OW * 4);
      kx.k.f32_col2im(kx.put(col), N, M, IH, IW, c.kh, c.kw, c.sh, c.sw, c.pt, c.pl, c.dh, c.dw, OH, OW, kx.put(scale), kx.put(bias), -0.5, Infinity, y);
      const want = refCol2im(col, M, IH, IW, { ...c, OH, OW }, scale, bias, -0.5, Infinity);
      expect(relError(kx.f32(y, M * OH * OW), want)).toBeLessThan(1e-5);
      const plain = kx.alloc(M * OH * OW * 4);
      kx.k.f32_col2im(kx.put(col), N, M, IH, IW, c.kh, c.kw, c.sh, c.sw, c.pt, c.pl, c.dh, c.dw, OH, OW, 0, 0, -Infinity, Infinity, plain);
      const wantPlain = refCol2im(col, M, IH, IW, { ...c, OH, OW }, null, null, -Infinity, Infinity);
      expect(relError(kx.f32(plain, M * OH * OW), wantPlain)).toBeLessThan(1e-5);
    });
  }
});

describe("f32_pointwise_4x8", () => {
  it("matches the reference within 1e-5 at channels around 4 and pixels around 8 and 64, with bias and clamp", () => {
    for (const M of tileSizes(4)) {
      for (const P of [...tileSizes(8), 63, 64, 65, 130]) {
        for (const K of [1, 3, 17]) {
          const X = uniform(K * P, K * 7 + P, 1);
          const W = uniform(M * K, M * 5 + K, 1);
          const bias = uniform(M, M + 1, 1);
          const kx = kernelInstance();
          const y = kx.alloc(M * P * 4);
          kx.k.f32_pointwise_4x8(M, K, P, kx.put(X), kx.put(packPointwise(W, M, K)), kx.put(bias), -0.7, 0.9, y);
          expect(relError(kx.f32(y, M * P), refPointwise(M, K, P, X, W, bias, -0.7, 0.9)), `M=${M} K=${K} P=${P}`).toBeLessThan(1e-5);
          const plain = kx.alloc(M * P * 4);
          kx.k.f32_pointwise_4x8(M, K, P, kx.put(X), kx.put(packPointwise(W, M, K)), 0, -Infinity, Infinity, plain);
          expect(relError(kx.f32(plain, M * P), refPointwise(M, K, P, X, W, null, -Infinity, Infinity)), `M=${M} K=${K} P=${P}`).toBeLessThan(1e-5);
        }
      }
    }
  });
});
