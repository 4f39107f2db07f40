// The one module that imports onnxruntime-web: applies the workerd loading shim, creates sessions and runs them.
// workerd forbids compiling wasm from bytes, so the runtime's wasm is imported as a Module and handed to
// WebAssembly.instantiate when the Emscripten glue asks for bytes (docs/architecture.md, "How inference runs").
import * as ort from "onnxruntime-web/wasm";
import ortWasm from "onnxruntime-web/ort-wasm-simd-threaded.wasm";

let configured = false;

function configureRuntime(): void {
  if (configured) return;
  configured = true;
  ort.env.wasm.numThreads = 1; // no Worker threads in workerd
  ort.env.wasm.proxy = false;
  // A placeholder makes the glue take its "binary given" path, which calls WebAssembly.instantiate(bytes).
  ort.env.wasm.wasmBinary = new Uint8Array([0]);
  ort.env.logLevel = "error";
  const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (
    source: BufferSource | WebAssembly.Module,
    imports?: WebAssembly.Imports,
  ) => Promise<unknown>;
  (WebAssembly as { instantiate: unknown }).instantiate = async (
    source: BufferSource | WebAssembly.Module,
    imports?: WebAssembly.Imports,
  ) => {
    if (source instanceof WebAssembly.Module) return instantiate(source, imports);
    const instance = (await instantiate(ortWasm, imports)) as WebAssembly.Instance;
    return { instance, module: ortWasm };
  };
}

export type OrtTensor = ort.Tensor;
export type OrtTensorType = ort.Tensor.Type;

export function makeOrtTensor(type: OrtTensorType, data: ort.Tensor.DataType, dims: readonly number[]): OrtTensor {
  return new ort.Tensor(type, data as never, dims);
}

export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

export interface OrtSessionOptions {
  /**
   * Fold weight-only DequantizeLinear into fp32 weights at load: measured 6.8 -> 0.2 ms per call on an MLP,
   * because otherwise the runtime dequantizes every weight on every run. Costs fp32 memory in the wasm heap.
   */
  foldWeightDequantize?: boolean;
}

export async function createOrtSession(bytes: Uint8Array, options: OrtSessionOptions = {}): Promise<OrtSession> {
  configureRuntime();
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
    ...(options.foldWeightDequantize ? { extra: { session: { disable_quant_qdq: "1" } } } : {}),
  });
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    run: (feeds) => session.run(feeds) as Promise<Record<string, OrtTensor>>,
    release: () => session.release(),
  };
}
