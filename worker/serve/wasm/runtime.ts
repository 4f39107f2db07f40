// A kernels instance and its memory: typed access to the exported kernels and a bump allocator over the wasm heap
// (what a load packs); while a run's arena is attached, allocations go to it instead. Each kernel session owns one
// instance, so releasing the session frees its memory whole. Pure: the compiled module comes from the caller
// (builds.ts in workerd, file bytes in Node tests).

/** Pointers are byte offsets into the instance's memory; 0 stands for "none" where a kernel accepts it. */
export type Ptr = number;

export interface KernelExports {
  memory: WebAssembly.Memory;
  heap_base(): number;
  relaxed_simd(): number;
  f32_gemm_wasmsimd_4x8(M: number, K: number, N: number, A: Ptr, lda: number, Bp: Ptr, bias: Ptr, C: Ptr, ldc: number, lo: number, hi: number): void;
  qs8_quantize_rows(M: number, K: number, Kp: number, A: Ptr, lda: number, Q: Ptr, scales: Ptr): void;
  qs8_gemm_wasmsimd_2x4(M: number, Kp: number, N: number, Q: Ptr, as: Ptr, W: Ptr, ws: Ptr, bias: Ptr, C: Ptr, ldc: number, lo: number, hi: number): void;
  qu7_quantize_rows(M: number, K: number, Kp: number, A: Ptr, lda: number, Q: Ptr, scales: Ptr, zeroPoints: Ptr): void;
  qs8_quantize_rows_static(M: number, K: number, Kp: number, A: Ptr, lda: number, s: number, zp: number, lo: number, hi: number, shift: number, Q: Ptr): void;
  f32_quantize_linear(n: number, X: Ptr, s: number, zp: number, lo: number, hi: number, Y: Ptr): void;
  f32_dequantize_linear(n: number, X: Ptr, s: number, zp: number, Y: Ptr): void;
  f32_quantize_dequantize_linear(n: number, X: Ptr, s: number, zp: number, lo: number, hi: number, Y: Ptr): void;
  qu7_gemm_wasmsimd_2x4(M: number, Kp: number, N: number, Q: Ptr, as: Ptr, zps: Ptr, W: Ptr, wsum: Ptr, ws: Ptr, bias: Ptr, C: Ptr, ldc: number, lo: number, hi: number): void;
  qs4_quantize_rows(M: number, K: number, Kp: number, A: Ptr, lda: number, Q: Ptr, scales: Ptr, qsum: Ptr): void;
  qs4_gemm_wasmsimd_rx4(M: number, Kp: number, N: number, Q: Ptr, as: Ptr, qsum: Ptr, W: Ptr, wsT: Ptr, Np: number, bias: Ptr, C: Ptr, ldc: number, lo: number, hi: number): void;
  qs4z_gemm_wasmsimd_rx4(M: number, Kp: number, N: number, Q: Ptr, as: Ptr, qsum: Ptr, W: Ptr, wsT: Ptr, zT: Ptr, Np: number, bias: Ptr, C: Ptr, ldc: number, lo: number, hi: number): void;
  lut4_gemm_wasmsimd_4x8(M: number, K: number, N: number, A: Ptr, lda: number, Wp: Ptr, table: Ptr, scale: Ptr, bias: Ptr, C: Ptr, ldc: number, lo: number, hi: number): void;
  pq_gemm_wasmsimd(M: number, K: number, N: number, d: number, kp: number, A: Ptr, lda: number, idx: Ptr, bookT: Ptr, scale: Ptr, bias: Ptr, C: Ptr, ldc: number, lo: number, hi: number, lut: Ptr): void;
  binary_pack_rows(M: number, K: number, Kp: number, A: Ptr, lda: number, bits: Ptr, scales: Ptr): void;
  binary_xnor_gemm_wasmsimd_1x4(M: number, K: number, Kp: number, N: number, XA: Ptr, as: Ptr, W: Ptr, ws: Ptr, bias: Ptr, C: Ptr, ldc: number, lo: number, hi: number): void;
  binary_sign_gemm_wasmsimd_1x4(M: number, K: number, Kp: number, N: number, A: Ptr, lda: number, W: Ptr, ws: Ptr, bias: Ptr, C: Ptr, ldc: number, lo: number, hi: number): void;
  f32_bsr1x16_gemm_wasmsimd_2x16(M: number, N: number, A: Ptr, lda: number, ptr: Ptr, kidx: Ptr, vals: Ptr, bias: Ptr, C: Ptr, ldc: number, lo: number, hi: number): void;
  f32_csr_gemm_scalar_1x4(M: number, N: number, A: Ptr, lda: number, ptr: Ptr, kidx: Ptr, vals: Ptr, bias: Ptr, C: Ptr, ldc: number, lo: number, hi: number): void;
  f32_im2col(X: Ptr, C: number, H: number, W: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, dh: number, dw: number, OH: number, OW: number, out: Ptr): void;
  f32_im2planes(X: Ptr, C: number, H: number, W: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, dh: number, dw: number, OH: number, OW: number, out: Ptr): void;
  f32_pad_planes(X: Ptr, C: number, H: number, W: number, pt: number, pl: number, Hp: number, Wp: number, out: Ptr): void;
  f32_maxpool2d(X: Ptr, planes: number, H: number, W: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number, OH: number, OW: number, Y: Ptr): void;
  f32_transpose(rows: number, cols: number, src: Ptr, dst: Ptr, ldDst: number): void;
  f32_dwconv2d(X: Ptr, C: number, H: number, W: number, Wt: Ptr, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number, OH: number, OW: number, bias: Ptr, lo: number, hi: number, scratch: Ptr, Y: Ptr): void;
  f32_pointwise_4x8(M: number, K: number, P: number, X: Ptr, Wp: Ptr, bias: Ptr, lo: number, hi: number, Y: Ptr): void;
  qs8_pointwise_quantize(K: number, P: number, X: Ptr, Q: Ptr, scales: Ptr): void;
  qs8_patch_quantize(Xp: Ptr, C: number, Hp: number, Wp: number, kh: number, kw: number, dh: number, dw: number, OH: number, OW: number, Q: Ptr, scales: Ptr): void;
  qs8_pointwise_quantize_static(K: number, P: number, X: Ptr, Q: Ptr, s: number, zp: number, lo: number, hi: number, shift: number): void;
  qs8_patch_quantize_static(Xp: Ptr, C: number, Hp: number, Wp: number, kh: number, kw: number, dh: number, dw: number, OH: number, OW: number, Q: Ptr, s: number, zp: number, lo: number, hi: number, shift: number): void;
  qs8_pointwise_4x8(M: number, K: number, P: number, Q: Ptr, as: Ptr, Wp: Ptr, ws: Ptr, bias: Ptr, lo: number, hi: number, Y: Ptr): void;
  f32_binary_clamp(op: number, n: number, A: Ptr, B: Ptr, lo: number, hi: number, Y: Ptr): void;
  f32_clamp(n: number, X: Ptr, lo: number, hi: number, Y: Ptr): void;
  f32_layernorm_rows(rows: number, D: number, X: Ptr, gamma: Ptr, beta: Ptr, eps: number, Y: Ptr): void;
  qu7_pointwise_quantize(K: number, P: number, X: Ptr, Q: Ptr, scales: Ptr, zeroPoints: Ptr): void;
  qu7_patch_quantize(Xp: Ptr, C: number, Hp: number, Wp: number, kh: number, kw: number, dh: number, dw: number, OH: number, OW: number, Q: Ptr, scales: Ptr, zeroPoints: Ptr): void;
  qu7_pointwise_4x8(M: number, K: number, P: number, Q: Ptr, as: Ptr, zps: Ptr, Wp: Ptr, wsum: Ptr, ws: Ptr, bias: Ptr, lo: number, hi: number, Y: Ptr): void;
  f32_softmax_rows(rows: number, len: number, X: Ptr, Y: Ptr): void;
  f32_shifted_exp_sums(rows: number, len: number, X: Ptr, Y: Ptr, S: Ptr): void;
  f32_gelu_erf(n: number, X: Ptr, Y: Ptr): void;
  f32_sigmoid(n: number, X: Ptr, Y: Ptr): void;
  f32_swish(n: number, alpha: number, X: Ptr, Y: Ptr): void;
  f32_hardswish(n: number, alpha: number, beta: number, X: Ptr, Y: Ptr): void;
  f32_rows_affine(rows: number, len: number, X: Ptr, S: Ptr, T: Ptr, lo: number, hi: number, Y: Ptr): void;
  f32_leaky_rows(rows: number, len: number, X: Ptr, S: Ptr, alpha: number, Y: Ptr): void;
  f32_exp_activation(kind: number, n: number, alpha: number, beta: number, X: Ptr, Y: Ptr): void;
  f32_rows_sum(rows: number, len: number, X: Ptr, divisor: number, Y: Ptr): void;
  f32_rows_extreme(rows: number, len: number, X: Ptr, lowest: number, Y: Ptr): void;
  f32_lstm_cell(H: number, XW: Ptr, G: Ptr, P: Ptr, clip: number, inputForget: number, C: Ptr, Hs: Ptr, Y: Ptr): void;
  f32_gru_reset(H: number, XW: Ptr, G: Ptr, clip: number, Hs: Ptr, Z: Ptr, RH: Ptr): void;
  f32_gru_cell(H: number, XW: Ptr, G: Ptr, Z: Ptr, GH: Ptr, clip: number, Hs: Ptr, Y: Ptr): void;
  f32_col2im(col: Ptr, ldc: number, M: number, IH: number, IW: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, dh: number, dw: number, OH: number, OW: number, scale: Ptr, bias: Ptr, lo: number, hi: number, Y: Ptr): void;
}

/**
 * Where allocations go while a run is under way (engine/arena.ts): `alloc`, `mark` and `reset` on the instance
 * become the arena's, so a kernel's scratch freed by a reset is free again within the run.
 */
export interface Allocator {
  alloc(bytes: number): Ptr;
  mark(): number;
  reset(mark: number): void;
}

const PAGE = 65536;
const ALIGN = 16;

export class KernelInstance {
  readonly k: KernelExports;
  private top: number;
  /** The attached run's arena, or null outside a run. */
  private arena: Allocator | null = null;

  constructor(module: WebAssembly.Module) {
    const instance = new WebAssembly.Instance(module, {});
    this.k = instance.exports as unknown as KernelExports;
    this.top = align(this.k.heap_base());
  }

  get relaxed(): boolean {
    return this.k.relaxed_simd() === 1;
  }

  /** Bytes the instance's memory holds (it never shrinks). */
  get residentBytes(): number {
    return this.k.memory.buffer.byteLength;
  }

  /**
   * Allocates `bytes` (16-byte aligned), growing memory if needed: from the attached arena during a run, else after
   * everything allocated so far. Growing detaches earlier views: re-make them.
   */
  alloc(bytes: number): Ptr {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`cannot allocate ${bytes} bytes`);
    if (this.arena) return this.arena.alloc(bytes);
    const ptr = this.top;
    const end = align(ptr + bytes);
    this.reserve(end);
    this.top = end;
    return ptr;
  }

  /** Grows memory (never shrinks) to hold at least `end` bytes. */
  reserve(end: number): void {
    const have = this.k.memory.buffer.byteLength;
    if (end > have) this.k.memory.grow(Math.ceil((end - have) / PAGE));
  }

  /** The allocator's position (the arena's, during a run), to free everything allocated after it with `reset`. */
  mark(): number {
    return this.arena ? this.arena.mark() : this.top;
  }

  reset(mark: number): void {
    if (this.arena) this.arena.reset(mark);
    else this.top = mark;
  }

  /** Whether a run's arena is attached. */
  get running(): boolean {
    return this.arena !== null;
  }

  /** Sends allocations to a run's arena (which starts at the current mark) until detached with null; one at a time. */
  attach(arena: Allocator | null): void {
    if (arena && this.arena) throw new Error("a run is already under way on this kernel instance");
    this.arena = arena;
  }

  f32(ptr: Ptr, n: number): Float32Array {
    return new Float32Array(this.k.memory.buffer, ptr, n);
  }
  i8(ptr: Ptr, n: number): Int8Array {
    return new Int8Array(this.k.memory.buffer, ptr, n);
  }
  u8(ptr: Ptr, n: number): Uint8Array {
    return new Uint8Array(this.k.memory.buffer, ptr, n);
  }
  i32(ptr: Ptr, n: number): Int32Array {
    return new Int32Array(this.k.memory.buffer, ptr, n);
  }
  u32(ptr: Ptr, n: number): Uint32Array {
    return new Uint32Array(this.k.memory.buffer, ptr, n);
  }

  /** Copies a typed array into fresh kernel memory. */
  put(data: Float32Array | Int8Array | Uint8Array | Int16Array | Int32Array | Uint32Array): Ptr {
    const ptr = this.alloc(data.byteLength);
    new Uint8Array(this.k.memory.buffer, ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return ptr;
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
