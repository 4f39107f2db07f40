// Node's way to the kernels: compile the committed wasm from its file bytes (workerd imports it as a module instead).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { KernelInstance } from "@worker/serve/wasm/runtime";

const path = (name: string) => fileURLToPath(new URL(`../../kernels/dist/${name}`, import.meta.url));

/** The plain SIMD128 build: Node 20's baseline tier computes a relaxed op wrongly, so Node tests never use the other. */
// workers-types declares WebAssembly.Module abstract (workerd cannot compile bytes); Node can.
const compile = WebAssembly.Module as unknown as new (bytes: BufferSource) => WebAssembly.Module;
export const plainKernelModule = new compile(readFileSync(path("kernels.wasm")));

export function kernelInstance(): KernelInstance {
  return new KernelInstance(plainKernelModule);
}

import { uniform } from "./numbers";
export { asymmetricLevels, integers, relError, tileSizes, uniform } from "./numbers";

/** Static 8-bit activation grids as QDQ exporters write them: uint8 levels (shifted by 128 into int8 for the GEMMs)
 * and int8 levels. */
export const STATIC_GRIDS = [
  { label: "uint8", s: 0.05, zp: 37, lo: 0, hi: 255, shift: 128 },
  { label: "int8", s: 0.013, zp: -5, lo: -128, hi: 127, shift: 0 },
];

/** Values over twice a grid's range (scale s), every fourth exactly half a level from a boundary, the seventh NaN. */
export function gridValues(n: number, seed: number, s: number): Float32Array {
  const x = uniform(n, seed, 1).map((v) => v * 300 * s);
  for (let i = 0; i < n; i += 4) x[i] = Math.fround((Math.round(x[i]! / s) + 0.5) * s);
  if (n > 6) x[6] = NaN;
  return x;
}
