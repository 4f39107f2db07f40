// Convolution helpers: im2col and its transpose as planes (im2planes) over paddings, strides and dilations, and the
// blocked transpose around its 4x4 tile.
import { describe, expect, it } from "vitest";
import { outputSize, refIm2col, refMaxPool2d, refTranspose, type Im2colShape } from "@kernels/reference/f32_conv";
import { kernelInstance, tileSizes, uniform } from "@test/support/kernels";

const shapes: Im2colShape[] = [
  { C: 1, H: 5, W: 5, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1 },
  { C: 3, H: 7, W: 6, kh: 3, kw: 2, sh: 2, sw: 1, ph: 0, pw: 1, dh: 1, dw: 1 },
  { C: 2, H: 9, W: 9, kh: 3, kw: 3, sh: 2, sw: 2, ph: 2, pw: 2, dh: 2, dw: 2 },
  { C: 4, H: 4, W: 4, kh: 1, kw: 1, sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1 },
];

describe("f32_im2col", () => {
  for (const s of shapes) {
    it(`copies patches exactly for ${JSON.stringify(s)}`, () => {
      const X = uniform(s.C * s.H * s.W, s.C + s.H, 1);
      const { OH, OW } = outputSize(s);
      const kx = kernelInstance();
      const x = kx.put(X);
      const n = OH * OW * s.C * s.kh * s.kw;
      const out = kx.alloc(n * 4);
      kx.k.f32_im2col(x, s.C, s.H, s.W, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw, s.dh, s.dw, OH, OW, out);
      expect([...kx.f32(out, n)]).toEqual([...refIm2col(X, s)]);
    });
  }
});

/** The sweep both patch copies are checked over: widths around 4 and 8 (and 28), strides 1 to 3, paddings, dilations,
 * K % 4; each shape with a seeded input, those with an empty output left out. */
function* sweep(): Generator<{ s: Im2colShape; OH: number; OW: number; X: Float32Array }> {
  for (const W of [1, 3, 4, 5, 7, 8, 9, 12, 13, 17, 28]) {
    for (const [kh, kw] of [[1, 1], [3, 3], [1, 3], [5, 2], [7, 7]] as const) {
      for (const sw of [1, 2, 3]) {
        for (const pw of [0, 1, 3]) {
          for (const dw of [1, 2]) {
            const s: Im2colShape = { C: (W % 3) + 1, H: 6, W, kh, kw, sh: 1 + (W % 2), sw, ph: pw > 0 ? 1 : 0, pw, dh: 1, dw };
            const { OH, OW } = outputSize(s);
            if (OH > 0 && OW > 0) yield { s, OH, OW, X: uniform(s.C * s.H * s.W, W * 100 + kh * 10 + sw, 1) };
          }
        }
      }
    }
  }
}

describe("f32_im2col, four patch columns and four pixels at a time", () => {
  it("copies patches exactly across widths around 4 and 8, strides 1 to 3, paddings, dilations and K % 4", () => {
    const kx = kernelInstance();
    let cases = 0;
    for (const { s, OH, OW, X } of sweep()) {
      const n = OH * OW * s.C * s.kh * s.kw;
      const mark = kx.mark();
      const out = kx.alloc(n * 4);
      kx.k.f32_im2col(kx.put(X), s.C, s.H, s.W, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw, s.dh, s.dw, OH, OW, out);
      expect([...kx.f32(out, n)], JSON.stringify(s)).toEqual([...refIm2col(X, s)]);
      kx.reset(mark);
      cases++;
    }
    expect(cases).toBeGreaterThan(500);
  });
});

describe("f32_im2planes", () => {
  it("writes im2col transposed exactly (a plane of output pixels per patch entry) over the same sweep", () => {
    const kx = kernelInstance();
    let cases = 0;
    for (const { s, OH, OW, X } of sweep()) {
      const K = s.C * s.kh * s.kw;
      const mark = kx.mark();
      const out = kx.alloc(K * OH * OW * 4);
      kx.k.f32_im2planes(kx.put(X), s.C, s.H, s.W, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw, s.dh, s.dw, OH, OW, out);
      expect([...kx.f32(out, K * OH * OW)], JSON.stringify(s)).toEqual([...refTranspose(OH * OW, K, refIm2col(X, s))]);
      kx.reset(mark);
      cases++;
    }
    expect(cases).toBeGreaterThan(500);
  });
});

describe("f32_transpose", () => {
  it("transposes exactly at rows and columns around 4", () => {
    for (const rows of tileSizes(4)) {
      for (const cols of tileSizes(4)) {
        const src = uniform(rows * cols, rows * 10 + cols, 1);
        const kx = kernelInstance();
        const dst = kx.alloc(rows * cols * 4);
        kx.k.f32_transpose(rows, cols, kx.put(src), dst, rows);
        expect([...kx.f32(dst, rows * cols)], `${rows}x${cols}`).toEqual([...refTranspose(rows, cols, src)]);
      }
    }
  });
});

describe("f32_maxpool2d", () => {
  const cases = [
    { kh: 2, kw: 2, sh: 2, sw: 2, pt: 0, pl: 0, dh: 1, dw: 1 },
    { kh: 2, kw: 2, sh: 2, sw: 2, pt: 1, pl: 1, dh: 1, dw: 1 },
    { kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pl: 1, dh: 1, dw: 1 },
    { kh: 3, kw: 2, sh: 1, sw: 2, pt: 0, pl: 1, dh: 2, dw: 1 },
    // Inception's branch pool and GoogLeNet's strided ones (four outputs at a time inside the row), a wide window.
    { kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pl: 1, dh: 1, dw: 1 },
    { kh: 3, kw: 3, sh: 2, sw: 2, pt: 0, pl: 0, dh: 1, dw: 1 },
    { kh: 2, kw: 5, sh: 1, sw: 1, pt: 0, pl: 2, dh: 1, dw: 1 },
    { kh: 1, kw: 3, sh: 1, sw: 2, pt: 0, pl: 1, dh: 1, dw: 2 },
  ];
  for (const c of cases) {
    it(`takes window maxima exactly for ${JSON.stringify(c)} on odd and even planes`, () => {
      for (const [H, W] of [[7, 7], [8, 6], [5, 9], [28, 28], [16, 19], [6, 61]] as const) {
        const OH = Math.floor((H + 2 * c.pt - c.dh * (c.kh - 1) - 1) / c.sh) + 1;
        const OW = Math.floor((W + 2 * c.pl - c.dw * (c.kw - 1) - 1) / c.sw) + 1;
        const planes = 3;
        const X = uniform(planes * H * W, H * W, 1);
        const kx = kernelInstance();
        const y = kx.alloc(planes * OH * OW * 4);
        kx.k.f32_maxpool2d(kx.put(X), planes, H, W, c.kh, c.kw, c.sh, c.sw, c.pt, c.pl, c.dh, c.dw, OH, OW, y);
        expect([...kx.f32(y, planes * OH * OW)], `${H}x${W}`).toEqual([...refMaxPool2d(X, planes, H, W, { ...c, OH, OW })]);
      }
    });
  }

  it("takes the per-window path on rows wider than its 4096-column row buffer", () => {
    const c = { kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pl: 1, dh: 1, dw: 1 };
    const [H, W] = [5, 4099];
    const OH = Math.floor((H + 2 - 3) / 2) + 1;
    const OW = Math.floor((W + 2 - 3) / 2) + 1;
    const X = uniform(H * W, 77, 1);
    const kx = kernelInstance();
    const y = kx.alloc(OH * OW * 4);
    kx.k.f32_maxpool2d(kx.put(X), 1, H, W, c.kh, c.kw, c.sh, c.sw, c.pt, c.pl, c.dh, c.dw, OH, OW, y);
    expect([...kx.f32(y, OH * OW)]).toEqual([...refMaxPool2d(X, 1, H, W, { ...c, OH, OW })]);
  });
});
