// Scalar references of the direct depthwise convolution and ConvTranspose's col2im gather, straight from the
// definitions (bounds tested per tap, no padded plane).
export interface DwShape {
  C: number; H: number; W: number; kh: number; kw: number; sh: number; sw: number;
  pt: number; pl: number; pb: number; pr: number; dh: number; dw: number;
}

export function dwOutputSize(s: DwShape): { OH: number; OW: number } {
  return {
    OH: Math.floor((s.H + s.pt + s.pb - s.dh * (s.kh - 1) - 1) / s.sh) + 1,
    OW: Math.floor((s.W + s.pl + s.pr - s.dw * (s.kw - 1) - 1) / s.sw) + 1,
  };
}

/** Y[c] = clamp(sum over taps of X[c] * Wt[c] + bias[c], lo, hi); Wt is [C, kh * kw]. */
export function refDwConv2d(X: ArrayLike<number>, Wt: ArrayLike<number>, bias: ArrayLike<number> | null, s: DwShape, lo: number, hi: number): Float32Array {
  const { OH, OW } = dwOutputSize(s);
  const Y = new Float32Array(s.C * OH * OW);
  for (let c = 0; c < s.C; c++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        let acc = 0;
        for (let ky = 0; ky < s.kh; ky++)
          for (let kx = 0; kx < s.kw; kx++) {
            const y = oy * s.sh - s.pt + ky * s.dh;
            const x = ox * s.sw - s.pl + kx * s.dw;
            if (y >= 0 && y < s.H && x >= 0 && x < s.W) acc += X[(c * s.H + y) * s.W + x]! * Wt[(c * s.kh + ky) * s.kw + kx]!;
          }
        Y[(c * OH + oy) * OW + ox] = Math.min(hi, Math.max(lo, acc + (bias ? bias[c]! : 0)));
      }
  return Y;
}

/** Scatter form of col2im: each column entry adds to the output pixel it lands on; then scale, bias, clamp. */
export function refCol2im(
  col: ArrayLike<number>, M: number, IH: number, IW: number,
  g: { kh: number; kw: number; sh: number; sw: number; pt: number; pl: number; dh: number; dw: number; OH: number; OW: number },
  scale: ArrayLike<number> | null, bias: ArrayLike<number> | null, lo: number, hi: number,
): Float32Array {
  const { kh, kw, OH, OW } = g;
  const Y = new Float64Array(M * OH * OW);
  const N = M * kh * kw;
  for (let iy = 0; iy < IH; iy++)
    for (let ix = 0; ix < IW; ix++)
      for (let m = 0; m < M; m++)
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) {
            const oy = iy * g.sh - g.pt + ky * g.dh;
            const ox = ix * g.sw - g.pl + kx * g.dw;
            if (oy >= 0 && oy < OH && ox >= 0 && ox < OW) Y[(m * OH + oy) * OW + ox]! += col[(iy * IW + ix) * N + (m * kh + ky) * kw + kx]!;
          }
  return Float32Array.from(Y, (v, i) => {
    const m = Math.floor(i / (OH * OW));
    return Math.min(hi, Math.max(lo, v * (scale ? scale[m]! : 1) + (bias ? bias[m]! : 0)));
  });
}

/** Y[M, P] = clamp(W[M, K] x X[K, P] + bias, lo, hi) (a 1x1 convolution on NCHW planes). */
export function refPointwise(M: number, K: number, P: number, X: ArrayLike<number>, W: ArrayLike<number>, bias: ArrayLike<number> | null, lo: number, hi: number): Float32Array {
  const Y = new Float32Array(M * P);
  for (let m = 0; m < M; m++)
    for (let p = 0; p < P; p++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += W[m * K + k]! * X[k * P + p]!;
      Y[m * P + p] = Math.min(hi, Math.max(lo, acc + (bias ? bias[m]! : 0)));
    }
  return Y;
}

/** W [M, K] in panels of 4 channels, [ceil(M/4)][K][4], zero past M: f32_pointwise_4x8's operand. */
export function packPointwise(W: ArrayLike<number>, M: number, K: number): Float32Array {
  const out = new Float32Array(Math.ceil(M / 4) * K * 4);
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) out[((m >> 2) * K + k) * 4 + (m & 3)] = W[m * K + k]!;
  return out;
}
