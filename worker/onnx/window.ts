// Sliding-window geometry shared by everything that reads a Conv or pool window (the engine's kernels, calibration's
// patches): the padding auto_pad SAME_* implies, per ONNX.

/** Begin/end padding of one spatial axis for auto_pad SAME_* (SAME_UPPER puts the odd pixel at the end). */
export function samePads(size: number, k: number, s: number, d: number, upper: boolean): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + (k - 1) * d + 1 - size, 0);
  const small = Math.floor(total / 2);
  return upper ? [small, total - small] : [total - small, small];
}
