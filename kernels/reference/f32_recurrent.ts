// Scalar references of the recurrent cell kernels, in float64 from ONNX's LSTM definition with Math.exp and Math.tanh
// (the kernel's rational approximations are not used here).

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * One LSTM step for one row of H units (gate order i, o, f, c): xw and g the two 4H pre-activation parts, p the
 * peepholes (i, o, f) or null, pre-activations clamped to [-clip, clip], f = 1 - i with inputForget.
 */
export function refLstmCell(
  H: number,
  xw: ArrayLike<number>,
  g: ArrayLike<number>,
  p: ArrayLike<number> | null,
  clip: number,
  inputForget: boolean,
  c: ArrayLike<number>,
): { c: Float64Array; h: Float64Array } {
  const bound = (v: number) => Math.min(clip, Math.max(-clip, v));
  const cOut = new Float64Array(H);
  const hOut = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    const pre = (gate: number) => xw[gate * H + j]! + g[gate * H + j]!;
    const i = sigmoid(bound(pre(0) + (p ? p[j]! * c[j]! : 0)));
    const f = inputForget ? 1 - i : sigmoid(bound(pre(2) + (p ? p[2 * H + j]! * c[j]! : 0)));
    const cNew = f * c[j]! + i * Math.tanh(bound(pre(3)));
    const o = sigmoid(bound(pre(1) + (p ? p[H + j]! * cNew : 0)));
    cOut[j] = cNew;
    hOut[j] = o * Math.tanh(cNew);
  }
  return { c: cOut, h: hOut };
}

/**
 * One GRU step for one row of H units (gate order z, r, h): xw the 3H input projection, and either (linearBeforeReset)
 * g = h R^T + Rb over 3H, h~ = xw_h + r g_h; or rh = (r * h) Rh^T given as a function of r * h, h~ = xw_h + rh.
 */
export function refGruCell(
  H: number,
  xw: ArrayLike<number>,
  g: ArrayLike<number>,
  h: ArrayLike<number>,
  clip: number,
  throughRh: ((rTimesH: Float64Array) => ArrayLike<number>) | null,
): Float64Array {
  const bound = (v: number) => Math.min(clip, Math.max(-clip, v));
  const z = Float64Array.from({ length: H }, (_, j) => sigmoid(bound(xw[j]! + g[j]!)));
  const r = Float64Array.from({ length: H }, (_, j) => sigmoid(bound(xw[H + j]! + g[H + j]!)));
  const rh = throughRh ? throughRh(Float64Array.from(r, (v, j) => v * h[j]!)) : null;
  return Float64Array.from({ length: H }, (_, j) => {
    const pre = rh ? xw[2 * H + j]! + rh[j]! : xw[2 * H + j]! + r[j]! * g[2 * H + j]!;
    return (1 - z[j]!) * Math.tanh(bound(pre)) + z[j]! * h[j]!;
  });
}
