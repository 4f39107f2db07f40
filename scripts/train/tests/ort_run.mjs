// Runs an ONNX model with onnxruntime-node on .npy inputs and prints the outputs as JSON (pytest compares them with PyTorch).
// usage: node ort_run.mjs [--level=basic|disabled|extended|all] MODEL.onnx NAME=INPUT.npy [NAME=INPUT.npy ...]
// Default level 'basic'. For QDQ models 'basic' already lets onnxruntime swap in integer kernels (exact int32
// accumulation), while 'disabled' executes QuantizeLinear/DequantizeLinear literally: the fake-quant maths of PyTorch.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const require = createRequire(resolve(repoRoot, "package.json"));
const ort = require("onnxruntime-node");

const DTYPES = {
  "<f4": ["float32", Float32Array],
  "<i8": ["int64", BigInt64Array],
  "<i4": ["int32", Int32Array],
  "|u1": ["uint8", Uint8Array],
};

function readNpy(path) {
  const buf = readFileSync(path);
  if (buf.toString("latin1", 1, 6) !== "NUMPY") throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString("latin1", major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order not supported`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const kind = DTYPES[descr];
  if (!kind) throw new Error(`${path}: dtype ${descr} not supported`);
  const [type, Ctor] = kind;
  const bytes = buf.subarray(start);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return new ort.Tensor(type, new Ctor(copy.buffer, 0, bytes.length / Ctor.BYTES_PER_ELEMENT), shape);
}

const args = process.argv.slice(2);
let level = "basic";
if (args[0]?.startsWith("--level=")) level = args.shift().slice("--level=".length);
const [modelPath, ...specs] = args;
if (!modelPath || specs.length === 0) {
  console.error("usage: node ort_run.mjs MODEL.onnx NAME=INPUT.npy [...]");
  process.exit(2);
}
const feeds = {};
for (const spec of specs) {
  const eq = spec.indexOf("=");
  feeds[spec.slice(0, eq)] = readNpy(spec.slice(eq + 1));
}
const session = await ort.InferenceSession.create(modelPath, { graphOptimizationLevel: level });
const results = await session.run(feeds);
const outputs = {};
for (const name of session.outputNames) {
  const t = results[name];
  outputs[name] = { type: t.type, dims: t.dims, data: Array.from(t.data, (v) => (typeof v === "bigint" ? Number(v) : v)) };
}
process.stdout.write(JSON.stringify({ inputs: session.inputNames, outputs }));
