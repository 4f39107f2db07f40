// The one module that imports onnxruntime-web: applies the workerd loading shim, creates sessions and runs them.
// workerd forbids compiling wasm from bytes, so the runtime's wasm is imported as a Module and handed to
// WebAssembly.instantiate when the Emscripten glue asks for bytes (docs/architecture.md, "How inference runs").
// The shim also keeps the runtime's memory (its wasm heap, imported by the instance) so that sessions can be
// charged what they made the heap grow by. That state is this module's alone; worker/isolate.ts lists it
// (OWNED_STATE.ortRuntime) with the isolate's other state.
import * as ort from "onnxruntime-web/wasm";
import ortWasm from "onnxruntime-web/ort-wasm-simd-threaded.wasm";

let configured = false;
/** onnxruntime-web's wasm heap, one per isolate, shared by all its sessions; it grows and never shrinks. */
let heap: WebAssembly.Memory | undefined;
/** Its size when instantiated: the baseline for the first session, created together with the runtime. */
let heapAtStart = 0;

/** The memory among an instance's imports or exports (the glue imports it; found by kind, names are minified). */
function findMemory(records: Iterable<unknown>): WebAssembly.Memory | undefined {
  for (const record of records) {
    if (typeof record !== "object" || record === null) continue;
    for (const value of Object.values(record)) if (value instanceof WebAssembly.Memory) return value;
  }
  return undefined;
}

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
    heap = findMemory([...Object.values(imports ?? {}), instance.exports]);
    heapAtStart = heap?.buffer.byteLength ?? 0;
    return { instance, module: ortWasm };
  };
}

/** The runtime's heap size now (0 before its first session). */
export function ortHeapBytes(): number {
  return heap?.buffer.byteLength ?? 0;
}

export type OrtTensor = ort.Tensor;
export type OrtTensorType = ort.Tensor.Type;

export function makeOrtTensor(type: OrtTensorType, data: ort.Tensor.DataType, dims: readonly number[]): OrtTensor {
  return new ort.Tensor(type, data as never, dims);
}

export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /**
   * Bytes the runtime's heap grew by while this session was created (0 when it fit in room that released sessions
   * left: the heap never shrinks, so that room stays in the isolate either way).
   */
  readonly heapGrowthBytes: number;
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

export interface OrtSessionOptions {
  /**
   * Fold weight-only DequantizeLinear into fp32 weights at load: measured 6.8 -> 0.2 ms per call on an MLP,
   * because otherwise the runtime dequantizes every weight on every run. Costs fp32 memory in the wasm heap.
   */
  foldWeightDequantize?: boolean;
  /** Layout optimizations (onnxruntime's NCHWc convolutions): on unless a session exposes what they fuse away (onnx/outputs.ts). */
  layoutOptimizations?: boolean;
}

/** Creations run one at a time, so that each one's heap growth is its own. */
let creating: Promise<unknown> = Promise.resolve();

export function createOrtSession(bytes: Uint8Array, options: OrtSessionOptions = {}): Promise<OrtSession> {
  configureRuntime();
  const created = creating.then(() => create(bytes, options));
  creating = created.catch(() => undefined);
  return created;
}

async function create(bytes: Uint8Array, options: OrtSessionOptions): Promise<OrtSession> {
  // Before the first creation the runtime is not instantiated yet: its starting heap is the baseline.
  const before = heap?.buffer.byteLength;
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ["wasm"],
    graphOptimizationLevel: options.layoutOptimizations === false ? "extended" : "all",
    ...(options.foldWeightDequantize ? { extra: { session: { disable_quant_qdq: "1" } } } : {}),
  });
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    heapGrowthBytes: Math.max(0, ortHeapBytes() - (before ?? heapAtStart)),
    run: (feeds) => session.run(feeds) as Promise<Record<string, OrtTensor>>,
    release: () => session.release(),
  };
}
