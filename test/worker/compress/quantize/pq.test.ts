// Product quantization: onnxruntime-node reads each weight back from the standard ONNX the encoding writes
// (indices, [centroids, subvector] codebook, Gather, Transpose/Reshape), and the test checks it against the float
// weight: at most `centroids` distinct sub-vectors along the input axis, each sub-vector at its nearest one. With
// calibration (Hessians measured by onnxruntime-node) the output error on unseen inputs is lower than without.
import { describe, expect, it } from "vitest";
import { compressModel } from "@worker/compress/pipeline";
import { pqKmeans } from "@worker/compress/quantize/pq";
import { RecipeSchema } from "@worker/compress/recipe";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor, readFloat32 } from "@worker/onnx/tensor";
import { mlpModel, randomInput, randomWeights, rng } from "@test/support/models";
import { floatTensor, readBack, runReference } from "@test/support/ort-node";
import { maxRelDiff, runKernels } from "@test/support/engine";
import { runWeb } from "@test/support/zoo-runs";
import { correlated, hessians, meanSquaredError } from "@test/support/hessians";

const DATASET = "b".repeat(24);
const recipe = (pq: object, calibrated = false) => RecipeSchema.parse({ quantize: { pq, ...(calibrated ? { calibration: { dataset: DATASET } } : {}) } });

/** Sub-vectors of d consecutive inputs of a [rows, K] (inputs contiguous) or [K, N] (outputs contiguous) weight. */
function subvectors(w: Float32Array, dims: number[], d: number, inputsContiguous: boolean): number[][] {
  const out: number[][] = [];
  if (inputsContiguous) for (let p = 0; p < w.length / d; p++) out.push(Array.from(w.subarray(p * d, p * d + d)));
  else {
    const [K, N] = dims as [number, number];
    for (let j = 0; j < K / d; j++) for (let n = 0; n < N; n++) out.push(Array.from({ length: d }, (_, t) => w[(j * d + t) * N + n]!));
  }
  return out;
}

const dist = (a: number[], b: number[]) => a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0);

/** At most `k` distinct read-back sub-vectors, and each original sub-vector nearest to its own (squared distance). */
function expectPq(original: number[][], got: number[][], k: number) {
  const shared = [...new Map(got.map((v) => [v.join(","), v])).values()];
  expect(shared.length).toBeLessThanOrEqual(k);
  const farther = original.filter((w, p) => shared.some((c) => dist(w, c) < dist(w, got[p]!) - 1e-9));
  expect(farther).toEqual([]);
  return shared.length;
}

const mlp = mlpModel([128, 256, 10], 6);
const feeds = { input: floatTensor(randomInput(2 * 128, 3), [2, 128]) };

describe("product quantization, without calibration", () => {
  const result = compressModel(mlp, recipe({ subvector: 8, centroids: 64 }));
  const variant = decodeModel(result.bytes);

  it("shares at most 64 sub-vectors of 8 inputs per layer, each at its nearest (MatMul: strided along K)", async () => {
    const w = readFloat32(mlp.graph!.initializer.find((t) => t.name === "fc0.weight")!);
    const got = await readBack(variant, "fc0/MatMul", 1, [128, 256], feeds);
    expect(expectPq(subvectors(w, [128, 256], 8, false), subvectors(got, [128, 256], 8, false), 64)).toBeGreaterThan(48);
  });

  it("reports indices and codebook per layer, and leaves a weight its codebook would not shrink float", () => {
    expect(result.tensors.map((t) => t.name)).toEqual(["fc0.weight", "head.weight"]);
    expect(result.tensors[0]!.codebook).toEqual({ scope: "per-layer", centroids: 64, codebooks: 1, indexBits: 8, indexBytes: 4096, codebookBytes: 1024, subvector: 8 });
    expect(result.tensors[0]!.bits).toBe(0.75);
    // 256 sub-vectors of 8 halves are 4 KB: at least a quarter of the 10 x 256 head's 10 KB.
    const r = compressModel(mlp, recipe({ subvector: 8, centroids: 256 }));
    expect(r.skipped.find((s) => s.name === "head.weight")?.reason).toMatch(/a 256-entry codebook would not make this weight smaller/);
  });

  it("runs alike in onnxruntime-node, onnxruntime-web and the kernel engine (1e-4 relative)", async () => {
    const node = (await runReference(result.bytes, feeds)).logits!.data as Float32Array;
    const [web] = await runWeb(result.bytes, [feeds]);
    const engine = (await runKernels(result.bytes, { input: { dims: [2, 128], data: feeds.input.data as Float32Array } })).outputs.logits!.data;
    expect(maxRelDiff(web!.logits!, node)).toBeLessThan(1e-4);
    expect(maxRelDiff(engine, node)).toBeLessThan(1e-4);
  });

  it("is served by the engine on the pq kernel, a byte per 8 weights in kernel memory", async () => {
    const { session } = await runKernels(result.bytes, { input: { dims: [2, 128], data: feeds.input.data as Float32Array } });
    expect(Object.values(session.kernels)).toEqual(["pq", "pq"]);
    const float = (await runKernels(encodeModel(mlp), { input: { dims: [2, 128], data: feeds.input.data as Float32Array } })).session;
    // fc0: 128 x 256 floats (128 KB) against 4096 index bytes and a 64 x 8 codebook; the head likewise.
    expect(session.weightBytes).toBeLessThan(float.weightBytes / 4);
  });

  it("stores UINT4 indices for 16 centroids, Gemm (transB) weights along their rows, and is deterministic", async () => {
    const wide = mlpModel([64, 128, 512], 8); // head.weight [512, 128], inputs contiguous
    const r = compressModel(wide, recipe({ subvector: 4, centroids: 16 }));
    expect(r.tensors.map((t) => [t.name, t.codebook!.indexBits])).toEqual([["fc0.weight", 4], ["head.weight", 4]]);
    const w = readFloat32(wide.graph!.initializer.find((t) => t.name === "head.weight")!);
    const f = { input: floatTensor(randomInput(64, 4), [1, 64]) };
    const got = await readBack(decodeModel(r.bytes), "head/Gemm", 1, [512, 128], f);
    expectPq(subvectors(w, [512, 128], 4, true), subvectors(got, [512, 128], 4, true), 16);
    expect(compressModel(wide, recipe({ subvector: 4, centroids: 16 })).bytes).toEqual(r.bytes);
  });

  it("is at least 20x smaller in weights at 8-input sub-vectors and 256 centroids", () => {
    const big = mlpModel([512, 256, 10], 9);
    const r = compressModel(big, recipe({}));
    const t = r.tensors.find((x) => x.name === "fc0.weight")!;
    expect((512 * 256 * 4) / (t.codebook!.indexBytes + t.codebook!.codebookBytes)).toBeGreaterThanOrEqual(20);
  });

  it("leaves a weight whose inputs are not a multiple of the sub-vector length float, saying so", () => {
    const odd = mlpModel([60, 256, 10], 2);
    expect(() => compressModel(odd, recipe({ subvector: 8 }))).toThrow(/60 inputs per output are not a multiple of the sub-vector length 8/);
  });
});

describe("pqKmeans", () => {
  it("recovers well separated clusters of sub-vectors", () => {
    const next = rng(4);
    const centers = Array.from({ length: 4 }, (_, c) => Array.from({ length: 8 }, (_, t) => (c + 1) * (t % 2 ? 1 : -1)));
    const count = 400;
    const points = new Float32Array(count * 8);
    for (let p = 0; p < count; p++) for (let t = 0; t < 8; t++) points[p * 8 + t] = centers[p % 4]![t]! + 0.01 * (next() - 0.5);
    const { centroids, assignment } = pqKmeans(points, count, 8, 4, 0, 50, null, () => 0);
    for (let p = 0; p < count; p++) {
      const c = Array.from(centroids.subarray(assignment[p]! * 8, assignment[p]! * 8 + 8));
      expect(dist(c, centers[p % 4]!)).toBeLessThan(1e-3);
    }
  });
});

describe("product quantization, calibrated", () => {
  it("has a lower output error on unseen correlated inputs than without calibration", async () => {
    const sizes = [64, 96, 8];
    const next = rng(12);
    const graph = makeGraph(
      [makeNode("MatMul", ["input", "w"], ["h"], "fc"), makeNode("MatMul", ["h", "w2"], ["logits"], "out")],
      "pq",
      [makeValueInfo("input", DT.FLOAT, ["N", sizes[0]!])],
      [makeValueInfo("logits", DT.FLOAT, ["N", sizes[2]!])],
      [makeTensor("w", DT.FLOAT, [sizes[0]!, sizes[1]!], randomWeights(sizes[0]! * sizes[1]!, sizes[0]!, next)), makeTensor("w2", DT.FLOAT, [sizes[1]!, sizes[2]!], randomWeights(sizes[1]! * sizes[2]!, sizes[1]!, next))],
    );
    const bytes = encodeModel(makeModel(graph, { "": 13 }));
    const calibration = correlated(512, sizes[0]!, 5);
    const unseen = correlated(512, sizes[0]!, 77);
    const h = await hessians(bytes, calibration, [512, sizes[0]!]);
    const plain = compressModel(decodeModel(bytes), recipe({ subvector: 8, centroids: 32 }));
    const calibrated = compressModel(decodeModel(bytes), recipe({ subvector: 8, centroids: 32 }, true), undefined, undefined, h);
    expect(calibrated.tensors.map((t) => t.name)).toEqual(["w", "w2"]);
    const [errPlain, errCalibrated] = [await meanSquaredError(bytes, plain.bytes, unseen, [512, sizes[0]!]), await meanSquaredError(bytes, calibrated.bytes, unseen, [512, sizes[0]!])];
    console.log(JSON.stringify({ errPlain, errCalibrated }));
    expect(errCalibrated).toBeLessThan(0.8 * errPlain);
  });
});
