// Scalar references of the convolution helpers: im2col of one image and a plain transpose.
export interface Im2colShape {
  C: number; H: number; W: number; kh: number; kw: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
}

export function outputSize(s: Im2colShape): { OH: number; OW: number } {
  return {
    OH: Math.floor((s.H + 2 * s.ph - s.dh * (s.kh - 1) - 1) / s.sh) + 1,
    OW: Math.floor((s.W + 2 * s.pw - s.dw * (s.kw - 1) - 1) / s.sw) + 1,
  };
}

export function refIm2col(X: ArrayLike<number>, s: Im2colShape): Float32Array {
  const { OH, OW } = outputSize(s);
  const K = s.C * s.kh * s.kw;
  const out = new Float32Array(OH * OW * K);
  for (let oy = 0; oy < OH; oy++)
    for (let ox = 0; ox < OW; ox++)
      for (let c = 0; c < s.C; c++)
        for (let ky = 0; ky < s.kh; ky++)
          for (let kx = 0; kx < s.kw; kx++) {
            const y = oy * s.sh - s.ph + ky * s.dh;
            const x = ox * s.sw - s.pw + kx * s.dw;
            const inside = y >= 0 && y < s.H && x >= 0 && x < s.W;
            out[(oy * OW + ox) * K + (c * s.kh + ky) * s.kw + kx] = inside ? X[(c * s.H + y) * s.W + x]! : 0;
          }
  return out;
}

export function refTranspose(rows: number, cols: number, src: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  return out;
}

/** 2-D max pooling of `planes` H x W planes; positions outside the input are skipped. */
export function refMaxPool2d(
  X: ArrayLike<number>, planes: number, H: number, W: number,
  g: { kh: number; kw: number; sh: number; sw: number; pt: number; pl: number; dh: number; dw: number; OH: number; OW: number },
): Float32Array {
  const out = new Float32Array(planes * g.OH * g.OW);
  for (let p = 0; p < planes; p++)
    for (let oy = 0; oy < g.OH; oy++)
      for (let ox = 0; ox < g.OW; ox++) {
        let m = -Infinity;
        for (let ky = 0; ky < g.kh; ky++)
          for (let kx = 0; kx < g.kw; kx++) {
            const y = oy * g.sh - g.pt + ky * g.dh;
            const x = ox * g.sw - g.pl + kx * g.dw;
            if (y >= 0 && y < H && x >= 0 && x < W) m = Math.max(m, X[(p * H + y) * W + x]!);
          }
        out[(p * g.OH + oy) * g.OW + ox] = m;
      }
  return out;
}
