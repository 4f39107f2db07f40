// The bench Worker (workerd, loopback only): kernel throughput per shape, model latency per engine and variant, and
// compression throughput, measured side by side in one isolate. Driven by bench/run.mjs; answers JSON.
import { quantizeModel, type QuantizeOptions } from "../worker/compress/quantize";
import { decodeModel, encodeModel } from "../worker/onnx/codec";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "../worker/onnx/builders";
import { DT } from "../worker/onnx/dtype";
import { makeTensor } from "../worker/onnx/tensor";
import type { ModelProto } from "onnx-buf";
import { createKernelSession } from "../worker/serve/engine";
import { createOrtSession, makeOrtTensor } from "../worker/serve/ort";
import { openSession, RESIDENT_FACTOR, servingProfile } from "../worker/serve/sessions";
import { compressModel } from "../worker/compress/pipeline";
import { KernelInstance } from "../worker/serve/wasm/runtime";
import { kernelModule, kernelModules } from "../worker/serve/wasm/builds";
import {
  packBinary, packBlockSparse1x16, packCsr, packF32Panels, packQs4, packQs8, padded, roundUp, weightMatrix,
} from "../worker/serve/wasm/packing";
import { compressModelBytes } from "../worker/catalog/variants";
import { RecipeSchema } from "../worker/compress/recipe";
import { adaroundRounding } from "../worker/compress/quantize/adaround";
import { provideCompressionKernels } from "../worker/compress/simd-quantize";
import { gptqRounding } from "../worker/compress/quantize/gptq";
import { quantizeAffine } from "../worker/compress/quantize/affine";
import { seededRandom } from "../worker/seeded-random";
import { benchCnn, benchMlp } from "../test/support/models";
import { blockPrune } from "./block-prune";
import type { CheckedTensor } from "../worker/serve/inputs";

function seeded(n: number, seed: number, a = 1): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 4294967296) * 2 * a - a;
  });
}

export const SHAPES: [number, number, number][] = [[1, 1024, 1024], [32, 1024, 1024], [1, 4096, 4096]];

/** Something to time: `run` is one call; `info` what the table reports beside the time. */
interface Runnable {
  run: () => unknown;
  info: Record<string, unknown>;
  release?: () => Promise<void>;
}

export const KERNELS = [
  "f32_gemm_4x8 (relaxed madd)", "f32_gemm_4x8 (simd128)", "qs8_gemm_2x4 (+ row quantization)", "qu7 relaxed dot 2x4 (+ row quantization)",
  "qs4_gemm_rx4 (+ row quantization)",
  "binary_xnor_1x4 (+ row binarization)", "binary_sign_select_1x4", "bsr1x16_2x16 (90% zero blocks)", "csr_1x4 (90% zero elements)",
  "onnxruntime-web MatMul fp32 (session.run)",
] as const;

async function kernelRunnable(shape: number, name: string): Promise<Runnable> {
  const [M, K, N] = SHAPES[shape]!;
  const info = { M, K, N, ops: 2 * M * K * N };
  const A = seeded(M * K, 1);
  const W = seeded(K * N, 2);
  const view = weightMatrix(W, K, N, "kn");
  const kx = new KernelInstance(name.includes("simd128") ? kernelModules.plain : kernelModule());
  const a = kx.put(A);
  const c = kx.alloc(M * N * 4);
  switch (name) {
    case "f32_gemm_4x8 (relaxed madd)":
    case "f32_gemm_4x8 (simd128)": {
      const b = kx.put(packF32Panels(view));
      const bias = kx.put(padded(null, roundUp(N, 8)));
      return { info, run: () => kx.k.f32_gemm_wasmsimd_4x8(M, K, N, a, K, b, bias, c, N, -Infinity, Infinity) };
    }
    case "qs8_gemm_2x4 (+ row quantization)":
    case "qs4_gemm_rx4 (+ row quantization)": {
      const four = name.startsWith("qs4");
      const p8 = packQs8(weightMatrix(Int8Array.from(W, (v) => Math.round(v * 127)), K, N, "kn"));
      const p4 = packQs4(weightMatrix(Int8Array.from(W, (v) => Math.round(v * 7)), K, N, "kn"), () => 0.1);
      const Kp = four ? p4.Kp : p8.Kp;
      const w = kx.put(four ? p4.data : p8.data);
      const ws = kx.put(four ? p4.scalesT : new Float32Array(p8.Np).fill(0.01));
      const q = kx.alloc(M * Kp);
      const s = kx.alloc(M * 4);
      const sums = kx.alloc((M * Kp) / 8);
      return {
        info,
        run: () => {
          if (four) {
            kx.k.qs4_quantize_rows(M, K, Kp, a, K, q, s, sums);
            kx.k.qs4_gemm_wasmsimd_rx4(M, Kp, N, q, s, sums, w, ws, p4.Np, 0, c, N, -Infinity, Infinity);
          } else {
            kx.k.qs8_quantize_rows(M, K, Kp, a, K, q, s);
            kx.k.qs8_gemm_wasmsimd_2x4(M, Kp, N, q, s, w, ws, 0, c, N, -Infinity, Infinity);
          }
        },
      };
    }
    case "qu7 relaxed dot 2x4 (+ row quantization)": {
      const p = packQs8(weightMatrix(Int8Array.from(W, (v) => Math.round(v * 127)), K, N, "kn"));
      const w = kx.put(p.data);
      const ws = kx.put(new Float32Array(p.Np).fill(0.01));
      const sums = kx.put(new Int32Array(p.Np));
      const q = kx.alloc(M * p.Kp);
      const s = kx.alloc(M * 4);
      const z = kx.alloc(M * 4);
      return {
        info,
        run: () => {
          kx.k.qu7_quantize_rows(M, K, p.Kp, a, K, q, s, z);
          kx.k.qu7_gemm_wasmsimd_2x4(M, p.Kp, N, q, s, z, w, sums, ws, 0, c, N, -Infinity, Infinity);
        },
      };
    }
    case "binary_xnor_1x4 (+ row binarization)":
    case "binary_sign_select_1x4": {
      const p = packBinary(view);
      const w = kx.put(p.bits);
      const ws = kx.put(new Float32Array(p.Np).fill(0.01));
      const xa = kx.alloc((M * p.Kp) / 8);
      const as = kx.alloc(M * 4);
      if (name.startsWith("binary_sign")) return { info, run: () => kx.k.binary_sign_gemm_wasmsimd_1x4(M, K, p.Kp, N, a, K, w, ws, 0, c, N, -Infinity, Infinity) };
      return {
        info,
        run: () => {
          kx.k.binary_pack_rows(M, K, p.Kp, a, K, xa, as);
          kx.k.binary_xnor_gemm_wasmsimd_1x4(M, K, p.Kp, N, xa, as, w, ws, 0, c, N, -Infinity, Infinity);
        },
      };
    }
    case "bsr1x16_2x16 (90% zero blocks)": {
      const p = packBlockSparse1x16(weightMatrix(W.map((v, i) => (Math.floor(i / 16) % 10 === 0 ? v : 0)), K, N, "kn"));
      const args = [kx.put(p.ptr), kx.put(p.kidx), kx.put(p.vals)] as const;
      return { info, run: () => kx.k.f32_bsr1x16_gemm_wasmsimd_2x16(M, N, a, K, ...args, 0, c, N, -Infinity, Infinity) };
    }
    case "csr_1x4 (90% zero elements)": {
      const p = packCsr(weightMatrix(W.map((v, i) => (i % 10 === 3 ? v : 0)), K, N, "kn"));
      const args = [kx.put(p.ptr), kx.put(p.kidx), kx.put(p.vals)] as const;
      return { info, run: () => kx.k.f32_csr_gemm_scalar_1x4(M, N, a, K, ...args, 0, c, N, -Infinity, Infinity) };
    }
    case "onnxruntime-web MatMul fp32 (session.run)": {
      const graph = makeGraph(
        [makeNode("MatMul", ["x", "w"], ["y"], "mm")], "matmul",
        [makeValueInfo("x", DT.FLOAT, [M, K])], [makeValueInfo("y", DT.FLOAT, [M, N])], [makeTensor("w", DT.FLOAT, [K, N], W)],
      );
      const session = await createOrtSession(encodeModel(makeModel(graph)));
      const feeds = { x: makeOrtTensor("float32", A, [M, K]) };
      return { info, run: () => session.run(feeds), release: () => session.release() };
    }
  }
  throw new Error(`unknown kernel ${name}`);
}

export const MODELS: Record<string, { build: () => ModelProto; input: number[] }> = {
  mlp: { build: benchMlp, input: [784] },
  cnn: { build: benchCnn, input: [1, 28, 28] },
};

const VARIANTS: Record<string, QuantizeOptions | "fp32" | "sparse90"> = {
  fp32: "fp32", int8: { bits: 8 }, int4: { bits: 4, block: 32 }, ternary: { bits: 2, block: 32 }, binary: { bits: 1 }, sparse90: "sparse90",
  // A 4-bit codebook per layer (k-means weight sharing): the lut4 kernel.
  codebook4: { codebook: { bits: 4, scope: "per-layer", seed: 0, iterations: 1000, exactZeros: false } },
  // Product quantization, 8-input sub-vectors and 256 centroids (uncalibrated, the recipe's defaults): the pq kernel.
  pq8x256: { pq: { subvector: 8, centroids: 256, seed: 0, iterations: 20 } },
};

/**
 * Variants made by the real pruning recipes (what POST /variants stores), per model. Per-layer scope: with one global
 * threshold, 95% zeroes the bench MLP's fc1 and head entirely (fc0's larger init scale keeps its weights).
 */
const PRUNED: Record<string, Record<string, unknown>> = {
  mlp: {
    ...Object.fromEntries([50, 75, 90, 95].map((p) => [`unstructured${p}`, { sparsity: p / 100, scope: "per-layer" }])),
    ...Object.fromEntries([50, 75, 90, 95].map((p) => [`block1x16-${p}`, { sparsity: p / 100, scope: "per-layer", structure: { block: [1, 16] } }])),
    "nm2:4": { structure: { n: 2, m: 4 } },
  },
  cnn: { channel50: { sparsity: 0.5, structure: "channel" } },
};

function variantBytes(name: string, variant: string): Uint8Array {
  const model = MODELS[name]!.build();
  const prune = PRUNED[name]?.[variant];
  if (prune) return compressModel(model, RecipeSchema.parse({ prune })).bytes;
  const v = VARIANTS[variant]!;
  if (v === "fp32") return encodeModel(model);
  if (v === "sparse90") return encodeModel(blockPrune(model, 0.9));
  return encodeModel(quantizeModel(model, v).model);
}

async function modelRunnable(name: string, engine: string, variant: string, batch: number): Promise<Runnable> {
  const spec = MODELS[name]!;
  const bytes = variantBytes(name, variant);
  const dims = [batch, ...spec.input];
  const data = seeded(dims.reduce((p, d) => p * d, 1), 3 + batch, 1).map(Math.abs);
  if (engine === "onnxruntime-web") {
    // As the server would load it: weight-only DequantizeLinear folded into fp32 weights at load.
    const session = await createOrtSession(bytes, { foldWeightDequantize: variant !== "fp32" });
    const feeds = { input: makeOrtTensor("float32", data, dims) };
    const fp32Bytes = variantBytes(name, "fp32").byteLength;
    return { info: { modelBytes: bytes.byteLength, residentBytes: fp32Bytes * RESIDENT_FACTOR }, run: () => session.run(feeds), release: () => session.release() };
  }
  if (engine === "serving") {
    // The engine the API would serve these bytes on (sessions.ts decides), with the kernel it picks per layer.
    const fp32Bytes = variantBytes(name, "fp32").byteLength;
    const session = await openSession(bytes, variant !== "fp32", fp32Bytes, true);
    const checked = { input: { type: "float32", dims, data } };
    await session.run(checked);
    return {
      info: { modelBytes: bytes.byteLength, servedBy: session.engine, residentBytes: session.residentBytes, kernels: session.engine === "kernels" ? servingProfile(bytes, fp32Bytes).kernels : undefined },
      run: () => session.run(checked),
      release: () => session.release(),
    };
  }
  const loaded = createKernelSession(decodeModel(bytes), kernelModule());
  if (!loaded.session) throw new Error(`not covered: ${loaded.reason}`);
  const session = loaded.session;
  const checked = { input: { type: "float32", dims, data } };
  await session.run(checked); // sizes the activation arena, so residentBytes includes it
  return {
    info: { modelBytes: bytes.byteLength, residentBytes: session.residentBytes, weightBytes: session.weightBytes, kernels: session.kernels },
    run: () => session.run(checked),
  };
}

/**
 * Session loads on the kernel engine of the 784-2048-2048-10 MLP's variants (what a cold inference and a variant's
 * serving profile pay): decode + plan + pack every layer. Pruned variants come from the real per-layer recipes.
 */
const LOAD_VARIANTS: Record<string, QuantizeOptions | "fp32" | { prune: Record<string, unknown> }> = {
  fp32: "fp32", int8: { bits: 8 }, int4: { bits: 4, block: 32 }, ternary: { bits: 2, block: 32 }, binary: { bits: 1 },
  unstructured90: { prune: { sparsity: 0.9, scope: "per-layer" } },
  "block1x16-90": { prune: { sparsity: 0.9, scope: "per-layer", structure: { block: [1, 16] } } },
};

function loadRunnable(variant: string): Runnable {
  const model = benchMlp(2048);
  const v = LOAD_VARIANTS[variant];
  if (!v) throw new Error(`unknown load variant ${variant}`);
  const bytes =
    v === "fp32" ? encodeModel(model) : "prune" in v ? compressModel(model, RecipeSchema.parse({ prune: v.prune })).bytes : encodeModel(quantizeModel(model, v).model);
  const load = () => {
    const loaded = createKernelSession(decodeModel(bytes), kernelModule());
    if (!loaded.session) throw new Error(`not covered: ${loaded.reason}`);
    return loaded.session;
  };
  const session = load();
  return {
    info: { modelBytes: bytes.byteLength, weightBytes: session.weightBytes, kernels: session.kernels },
    run: load,
  };
}

/**
 * Compression as POST /variants does it for {quantize:{bits:8}}: model bytes -> decode + validate -> int8 per-channel
 * weight-only -> encoded variant bytes. `info.fp32WeightBytes` is what the throughput is quoted in.
 */
function compressRunnable(hidden: number): Runnable {
  const model = benchMlp(hidden);
  const bytes = encodeModel(model);
  let fp32WeightBytes = 0;
  for (const t of model.graph!.initializer) if (t.dataType === DT.FLOAT) fp32WeightBytes += t.rawData.byteLength;
  const recipe = RecipeSchema.parse({ quantize: { bits: 8 } });
  let outBytes = compressModelBytes(bytes, recipe).bytes.byteLength;
  return {
    info: { modelBytes: bytes.byteLength, fp32WeightBytes, variantBytes: outBytes },
    run: () => {
      outBytes = compressModelBytes(bytes, recipe).bytes.byteLength;
    },
  };
}

/**
 * GPTQ's or AdaRound's rounding of one [K, N] MatMul weight at int4 block-32 (what `rounding: "gptq"` or "adaround"
 * costs a job per layer): a seeded weight and a seeded positive-definite Hessian (a rank-64 product plus a ridge)
 * stand in for a layer's. AdaRound runs its default 500 steps on the kernels' fp32 GEMM, as compression does here.
 */
function roundingRunnable(method: "gptq" | "adaround", k: number, n: number): Runnable {
  const next = seededRandom(k * 7919 + n);
  const data = Float32Array.from({ length: k * n }, () => (next() * 2 - 1) / Math.sqrt(k));
  const rank = 64;
  const a = Float64Array.from({ length: k * rank }, () => next() * 2 - 1);
  const hessian = new Float64Array(k * k);
  for (let i = 0; i < k; i++)
    for (let j = i; j < k; j++) {
      let s = i === j ? 0.1 : 0;
      for (let r = 0; r < rank; r++) s += (a[i * rank + r]! * a[j * rank + r]!) / rank;
      hessian[i * k + j] = hessian[j * k + i] = s;
    }
  const layout = { groups: 1, K: k, N: n, kStride: n, nStride: 1, groupStride: k * n };
  // As the app does at startup (worker/index.ts): compression's products on the kernels.
  if (method === "adaround") provideCompressionKernels(kernelModules.plain);
  const rounding = method === "gptq" ? gptqRounding(hessian, layout) : adaroundRounding(hessian, layout);
  return {
    info: { weights: k * n },
    run: () => void quantizeAffine(data, [k, n], { kind: "block", axis: 0, block: 32 }, 4, true, rounding),
  };
}

/** Model bytes and feeds the driver POSTs (the full zoo's models and their variants, made in Node). */
const uploaded = new Map<string, Uint8Array>();
const uploadedFeeds = new Map<string, Record<string, CheckedTensor>>();

function feedsFromJson(json: Record<string, { type: string; dims: number[]; data: number[] }>): Record<string, CheckedTensor> {
  return Object.fromEntries(
    Object.entries(json).map(([name, t]) => [
      name,
      { type: t.type, dims: t.dims, data: t.type === "int64" ? BigInt64Array.from(t.data, (v) => BigInt(v)) : Float32Array.from(t.data) },
    ]),
  );
}

/**
 * A model of the real-graph families: `bytes` on `engine` ("onnxruntime-web" as the server loads a model there, with
 * weight-only dequantization folded at load for variants; "kernels", which fails with the reason where it does not
 * cover the graph) on the uploaded `feeds`. The first run sizes the arena, so residentBytes includes it.
 */
async function familyRunnable(bytesName: string, feedsName: string, engine: string): Promise<Runnable> {
  const bytes = uploaded.get(bytesName);
  const checked = uploadedFeeds.get(feedsName);
  if (!bytes || !checked) throw new Error(`upload ${bytesName} and ${feedsName} first`);
  const variant = !bytesName.endsWith("/fp32");
  if (engine === "onnxruntime-web") {
    const session = await createOrtSession(bytes, { foldWeightDequantize: variant });
    const feeds = Object.fromEntries(Object.entries(checked).map(([k, t]) => [k, makeOrtTensor(t.type as "float32", t.data as Float32Array, t.dims)]));
    await session.run(feeds);
    return { info: { engine, modelBytes: bytes.byteLength, residentBytes: session.heapGrowthBytes }, run: () => session.run(feeds), release: () => session.release() };
  }
  const loaded = createKernelSession(decodeModel(bytes), kernelModule());
  if (!loaded.session) throw new Error(`not covered: ${loaded.reason}`);
  const session = loaded.session;
  await session.run(checked);
  return {
    info: { engine, modelBytes: bytes.byteLength, residentBytes: session.residentBytes, weightBytes: session.weightBytes, kernels: session.kernels },
    run: () => session.run(checked),
  };
}

// One runnable at a time per isolate, so large layers do not pile up in memory; two for the families, least recently
// used released first, so that a row and the FP32 baseline it is timed in alternation with stay loaded.
const held = new Map<string, Runnable>();

async function prepare(key: string): Promise<Runnable> {
  const hit = held.get(key);
  if (hit) {
    held.delete(key);
    held.set(key, hit);
    return hit;
  }
  const [kind, ...parts] = key.split("|");
  // Held side by side where they are timed in alternation: a family and its baseline; a small model's variants on
  // the kernels (a few MB each; onnxruntime-web sessions, ~30 MB each, one at a time).
  const room = kind === "family" ? 2 : kind === "model" && parts[1] === "kernels" ? 4 : 1;
  for (const [oldest, runnable] of [...held]) {
    if (held.size < room) break;
    held.delete(oldest);
    await runnable.release?.();
  }
  const runnable =
    kind === "kernel"
      ? await kernelRunnable(Number(parts[0]), parts[1]!)
      : kind === "compress"
        ? compressRunnable(Number(parts[0]))
        : kind === "gptq" || kind === "adaround"
          ? roundingRunnable(kind, Number(parts[0]), Number(parts[1]))
          : kind === "load"
          ? loadRunnable(parts[0]!)
          : kind === "family"
            ? await familyRunnable(parts[0]!, parts[1]!, parts[2]!)
            : await modelRunnable(parts[0]!, parts[1]!, parts[2]!, Number(parts[3]));
  held.set(key, runnable);
  return runnable;
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    try {
      if (url.pathname === "/list") return Response.json({ loads: Object.keys(LOAD_VARIANTS), kernels: KERNELS, shapes: SHAPES, models: Object.keys(MODELS), variants: Object.keys(VARIANTS), pruned: Object.fromEntries(Object.entries(PRUNED).map(([m, v]) => [m, Object.keys(v)])) });
      if (url.pathname === "/put" && request.method === "POST") {
        uploaded.set(url.searchParams.get("name")!, new Uint8Array(await request.arrayBuffer()));
        return new Response("ok");
      }
      if (url.pathname === "/feeds" && request.method === "POST") {
        uploadedFeeds.set(url.searchParams.get("name")!, feedsFromJson(await request.json()));
        return new Response("ok");
      }
      if (url.pathname === "/prepare") return Response.json((await prepare(url.searchParams.get("key")!)).info);
      if (url.pathname === "/run") {
        // The caller times this request from outside: workerd's clock does not advance during compute.
        const runnable = await prepare(url.searchParams.get("key")!);
        const iters = Number(url.searchParams.get("iters") ?? 1);
        for (let i = 0; i < iters; i++) await runnable.run();
        return new Response("ok");
      }
      if (url.pathname === "/bytes" && url.searchParams.get("name") === "mlp2048") {
        // The compression model as an upload; `copy` goes into the doc string so that each copy has its own id.
        const model = benchMlp(2048);
        model.docString = `bench copy ${url.searchParams.get("copy") ?? 0}`;
        return new Response(encodeModel(model));
      }
      if (url.pathname === "/bytes") return new Response(variantBytes(url.searchParams.get("name")!, url.searchParams.get("variant")!));
      return new Response("not found", { status: 404 });
    } catch (err) {
      return Response.json({ error: String((err as Error).stack ?? err) }, { status: 500 });
    }
  },
};
