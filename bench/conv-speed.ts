// Times the kernel engine on the small zoo's CNNs (FP32 and int8 weight-only, made as the catalog makes a variant)
// against onnxruntime-node's FP32 (one thread, all graph optimizations) and onnxruntime-web's (wasm, one thread):
// median of repeats after a warm-up. Not a test. Run under the shared lock, bundled by esbuild (tsconfig paths):
//   npx esbuild bench/conv-speed.ts --bundle --platform=node --format=esm --packages=external --outfile=.cache/bench/conv-speed.mjs
//   flock /tmp/bench.lock node .cache/bench/conv-speed.mjs [repeats]
import * as ortNode from "onnxruntime-node";
import * as ortWeb from "onnxruntime-web";
import { parseModelBytes } from "@worker/catalog/models";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { provideCompressionKernels } from "@worker/compress/simd-quantize";
import { decodeModel } from "@worker/onnx/codec";
import { createKernelSession } from "@worker/serve/engine";
import { plainKernelModule } from "@test/support/kernels";
import { zooDir, zooModelsIn } from "@test/support/zoo";

provideCompressionKernels(plainKernelModule);
ortWeb.env.wasm.numThreads = 1;
ortWeb.env.logLevel = "error";
const repeats = Number(process.argv[2] ?? 7);

async function median(f: () => Promise<unknown>): Promise<number> {
  await f();
  const t: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!;
}

const fmt = (ms: number) => ms.toFixed(1).padStart(8);
for (const m of zooModelsIn(zooDir("small")).filter((z) => z.name === "mobilenet_v2" || z.name === "resnet18")) {
  const feeds = m.inputs(1);
  const engineFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { type: "float32", dims: [...t.dims], data: t.data as Float32Array }]));
  const node = await ortNode.InferenceSession.create(m.bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
  const nodeMs = await median(() => node.run(feeds));
  const web = await ortWeb.InferenceSession.create(m.bytes, { executionProviders: ["wasm"] });
  const webFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ortWeb.Tensor("float32", t.data as Float32Array, t.dims)]));
  const webMs = await median(() => web.run(webFeeds));
  const variants: [string, Uint8Array][] = [["fp32", m.bytes]];
  for (const bits of [8, 4]) {
    try {
      variants.push([`int${bits}`, compressModel(parseModelBytes(m.bytes), RecipeSchema.parse({ quantize: { bits } }), undefined, m.bytes.byteLength).bytes]);
    } catch (e) {
      console.log(`${m.name} int${bits}: ${(e as Error).message}`);
    }
  }
  const dims = Object.values(feeds).map((t) => `[${t.dims}]`).join(" ");
  console.log(`${m.name} ${dims}: onnxruntime-node fp32 ${fmt(nodeMs)} ms, onnxruntime-web fp32 ${fmt(webMs)} ms`);
  for (const [label, bytes] of variants) {
    const loaded = createKernelSession(decodeModel(bytes), plainKernelModule);
    if (!loaded.session) {
      console.log(`  engine ${label}: not covered (${loaded.reason})`);
      continue;
    }
    const s = loaded.session;
    const ms = await median(() => s.run(engineFeeds));
    console.log(`  engine ${label.padEnd(5)} ${fmt(ms)} ms  (${(ms / nodeMs).toFixed(2)}x node fp32, ${(ms / webMs).toFixed(2)}x web fp32)`);
  }
}
