// Sums of outer products of activation rows (x xᵀ for a Hessian, x̃ xᵀ for its cross statistics) on the kernels' fp32
// GEMM: the Hessian accumulator hands over a batch of rows, feature-major, and gets the k x k product added into its
// float64 sums. Products are float32 within a batch (BATCH_ROWS rows), float64 across batches. One instance per
// calibration run, shared by its layers: the kernel memory holds one batch's product at a time.
import { packF32Panels, roundUp } from "../../serve/wasm/packing";
import { KernelInstance } from "../../serve/wasm/runtime";

/** Rows per product: enough to amortise packing, few enough that float32 sums stay close to float64's (1e-5 of the largest entry, tested). */
export const BATCH_ROWS = 64;
/** Fewer input features than this (a depthwise filter's 9) cost less in JavaScript than a kernel call. */
export const MIN_KERNEL_FEATURES = 32;

export class RowProducts {
  private readonly kx: KernelInstance;

  constructor(module: WebAssembly.Module) {
    this.kx = new KernelInstance(module);
  }

  /**
   * sum[at + i k + j] += Σ over r < rows of a[i stride + r] b[j stride + r], i, j < k: `a` and `b` hold `rows` rows
   * feature-major (feature i's values at i x stride).
   */
  add(sum: Float64Array, at: number, a: Float32Array, b: Float32Array, k: number, rows: number, stride: number): void {
    const kx = this.kx;
    const mark = kx.mark();
    try {
      const pa = kx.put(a.subarray(0, k * stride));
      const panels = kx.put(packF32Panels({ K: rows, N: k, data: b, offset: 0, kStride: 1, nStride: stride, colScale: null }));
      const bias = kx.put(new Float32Array(roundUp(k, 8)));
      const c = kx.alloc(k * k * 4);
      kx.k.f32_gemm_wasmsimd_4x8(k, rows, k, pa, stride, panels, bias, c, k, -Infinity, Infinity);
      const product = kx.f32(c, k * k);
      for (let e = 0; e < k * k; e++) sum[at + e] = sum[at + e]! + product[e]!;
    } finally {
      kx.reset(mark);
    }
  }
}
