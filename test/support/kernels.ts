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

export { integers, relError, tileSizes, uniform } from "./numbers";
