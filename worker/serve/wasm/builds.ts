// The one module that loads the kernels' wasm (imported as compiled WebAssembly.Modules by wrangler's default rule:
// workerd forbids compiling wasm from bytes at run time). Picks the relaxed-SIMD build when the runtime validates
// relaxed-SIMD code, the plain SIMD128 build otherwise. The choice is per isolate (worker/isolate.ts,
// OWNED_STATE.kernelBuild).
import plain from "../../../kernels/dist/kernels.wasm";
import relaxed from "../../../kernels/dist/kernels-relaxed.wasm";

// (module (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd))
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, 0x03,
  0x02, 0x01, 0x00, 0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b,
]);

let chosen: WebAssembly.Module | undefined;

export function relaxedSimdSupported(): boolean {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

export function kernelModule(): WebAssembly.Module {
  chosen ??= relaxedSimdSupported() ? relaxed : plain;
  return chosen;
}

export const kernelModules = { plain, relaxed };
