// scripts/zoo/zoo.py: the small zoo holds the nine models, each in the exporter style it stands for, and each FP32
// original loads and runs in onnxruntime-node at the manifest's sizes, agreeing with PyTorch's own outputs on the
// sample input. This is the reference side of the compression tests that read the zoo through test/support/zoo.ts.
// The torchvision families (zoo.py --set families) agree with PyTorch the same way and keep the exporter's forms the
// engine's fusions read.
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema, type GraphProto, type NodeProto, type TensorProto } from "onnx-buf";
import { beforeAll, describe, expect, it } from "vitest";
import { runReference } from "@test/support/ort-node";
import { cosine, zooModels, type ZooModel } from "@test/support/zoo";

const NAMES = ["mobilenet_v2", "resnet18", "transformer", "lstm", "gru", "cnn_constants", "cnn_if", "tied_embedding", "convtranspose"];

let zoo: Map<string, ZooModel>;
beforeAll(async () => {
  zoo = new Map((await zooModels("small")).map((m) => [m.name, m]));
});

const model = (name: string) => zoo.get(name)!;
const graphOf = (name: string) => fromBinary(ModelProtoSchema, model(name).bytes).graph!;
const elements = (t: TensorProto) => t.dims.reduce((a, b) => a * Number(b), 1);

/** The element type and dims of a graph input (tensor inputs only). */
function tensorType(graph: GraphProto, name: string): { elemType: number; dims: (string | number)[] } {
  const type = graph.input.find((i) => i.name === name)!.type!.value;
  if (type.case !== "tensorType") throw new Error(`${name} is not a tensor`);
  const dims = type.value.shape!.dim.map((d) => (d.value.case === "dimValue" ? Number(d.value.value) : String(d.value.value)));
  return { elemType: type.value.elemType, dims };
}

/** Nodes reading `name`, directly or through chains of Identity nodes. */
function readers(graph: GraphProto, name: string): NodeProto[] {
  const direct = graph.node.filter((n) => n.input.includes(name));
  return direct.flatMap((n) => (n.opType === "Identity" ? readers(graph, n.output[0]!) : [n]));
}

describe("the small model zoo", () => {
  it("holds the nine models under their stable names", () => {
    expect([...zoo.keys()]).toEqual(NAMES);
  });

  it.each(NAMES)("%s is small enough for the test suite and its manifest entry matches the file", (name) => {
    const m = model(name);
    expect(m.bytes.byteLength).toBeLessThan(2.5e6);
    // The weights are most of the file, so that compression ratios measured on it are those of the weights.
    expect(m.weightBytes / m.bytes.byteLength).toBeGreaterThan(0.85);
    expect(m.weightBytes).toBeGreaterThanOrEqual(4 * m.parameters * 0.9);
  });
});

describe("each FP32 original in onnxruntime-node", () => {
  it.each(NAMES)("%s runs on seeded inputs at the manifest's sizes with finite, non-constant outputs", async (name) => {
    const m = model(name);
    for (const seed of [1, 2]) {
      const outputs = await runReference(m.bytes, m.inputs(seed));
      expect(Object.keys(outputs).sort()).toEqual(m.signature.outputs.map((o) => o.name).sort());
      for (const spec of m.signature.outputs) {
        const y = outputs[spec.name]!;
        expect(y.dims).toEqual(spec.shape);
        const data = y.data as Float32Array;
        expect(data.every(Number.isFinite)).toBe(true);
        expect(Math.max(...data) - Math.min(...data)).toBeGreaterThan(1e-3);
      }
    }
  });

  it.each(NAMES)("%s computes what PyTorch computed on the sample input", async (name) => {
    const m = model(name);
    const sample = await m.sample();
    const outputs = await runReference(m.bytes, sample.feeds);
    for (const spec of m.signature.outputs) {
      const got = outputs[spec.name]!.data as Float32Array;
      const want = sample.outputs[spec.name]!;
      expect(got.length).toBe(want.length);
      expect(cosine(got, want)).toBeGreaterThan(0.99999);
      const scale = Math.max(1, ...want.map(Math.abs));
      expect(Math.max(...got.map((v, i) => Math.abs(v - want[i]!))) / scale).toBeLessThan(1e-3);
    }
  });

  it("gives different seeds different inputs and the same seed the same ones", () => {
    const m = model("transformer");
    const ids = (seed: number) => Array.from(m.inputs(seed).ids!.data as BigInt64Array, Number);
    expect(ids(3)).toEqual(ids(3));
    expect(ids(3)).not.toEqual(ids(4));
    const [lo, hi] = m.signature.inputs[0]!.range!;
    expect(ids(3).every((v) => v >= lo && v <= hi)).toBe(true);
  });

  it("runs the transformer at another batch and sequence length (dynamic axes)", async () => {
    const m = model("transformer");
    const ids = new BigInt64Array(3 * 5).map((_, i) => BigInt(i * 7));
    const { ort } = await import("@test/support/ort-node");
    const out = await runReference(m.bytes, { ids: new ort.Tensor("int64", ids, [3, 5]) });
    expect(out.hidden!.dims).toEqual([3, 5, m.signature.outputs[0]!.shape[2]]);
  });

  it("takes each branch of cnn_if on consecutive seeds, with different weights", async () => {
    const m = model("cnn_if");
    const [a, b] = [m.inputs(0), m.inputs(1)];
    expect(a.branch!.data).toEqual(BigInt64Array.of(0n));
    expect(b.branch!.data).toEqual(BigInt64Array.of(1n));
    const first = (await runReference(m.bytes, a)).logits!.data as Float32Array;
    const second = (await runReference(m.bytes, { ...a, branch: b.branch! })).logits!.data as Float32Array;
    expect(cosine(first, second)).toBeLessThan(0.9);
  });
});

describe("each model is written in its exporter's style", () => {
  it("mobilenet_v2 and resnet18: BatchNorm folded into the convolutions", () => {
    for (const name of ["mobilenet_v2", "resnet18"]) {
      const ops = graphOf(name).node.map((n) => n.opType);
      expect(ops).not.toContain("BatchNormalization");
      expect(ops.filter((op) => op === "Conv").length).toBeGreaterThanOrEqual(20);
    }
  });

  it("cnn_constants (paddle2onnx, tf2onnx): no initializers, every weight a Constant node, some behind Identity", () => {
    const g = graphOf("cnn_constants");
    expect(g.initializer).toEqual([]);
    const constants = g.node.filter((n) => n.opType === "Constant");
    const weights = constants.filter((n) => n.attribute[0]!.t!.dims.length >= 2);
    expect(weights.length).toBe(5); // three convolutions and two fully connected layers
    const behindIdentity = weights.filter((c) => g.node.some((n) => n.opType === "Identity" && n.input[0] === c.output[0]));
    expect(behindIdentity.length).toBeGreaterThanOrEqual(2);
    for (const c of weights) expect(readers(g, c.output[0]!).map((n) => n.opType)).toEqual([expect.stringMatching(/^(Conv|Gemm)$/)]);
    expect(g.input.map((i) => i.name)).toEqual(["image"]);
    expect(tensorType(g, "image").dims).toEqual(["p2o.DynamicDimension.0", 3, 32, 32]);
  });

  it("cnn_if: the weights are only in the If's two branches, each branch its own", () => {
    const g = graphOf("cnn_if");
    expect(g.initializer).toEqual([]);
    const ifs = g.node.filter((n) => n.opType === "If");
    expect(ifs.length).toBe(1);
    const branches = ifs[0]!.attribute.map((a) => a.g!);
    expect(ifs[0]!.attribute.map((a) => a.name).sort()).toEqual(["else_branch", "then_branch"]);
    const weightNames = branches.map((b) => b.initializer.filter((t) => t.dims.length >= 2).map((t) => t.name));
    for (const names of weightNames) expect(names.length).toBe(4); // two Conv and two MatMul weights
    expect(weightNames[0]!.filter((n) => weightNames[1]!.includes(n))).toEqual([]);
    expect(tensorType(g, "branch")).toEqual({ elemType: 7, dims: [] }); // an INT64 scalar
  });

  it("transformer: the layers that are one module share their weights, each written once", () => {
    const g = graphOf("transformer");
    const linear = (n: NodeProto) => n.opType === "MatMul" || n.opType === "Gemm";
    const shared = g.initializer.filter((t) => t.dims.length === 2 && readers(g, t.name).filter(linear).length >= 2);
    // Layers 1-2 and 4-5 are shared, four weight matrices each: the attention's in-projection (MatMul on one
    // pre-transposed [d, 3d] initializer), its out-projection (Gemm on the parameter itself), two feed-forward MatMuls.
    expect(shared.length).toBe(8);
    expect(shared.map((t) => readers(g, t.name).filter(linear).length)).toEqual(shared.map(() => 2));
    // What torch 1.13 writes: a parameter used twice is read directly by both Gemms; a transpose folded once per
    // use is deduplicated by value into one initializer that the second use reads through an Identity node.
    const direct = (t: TensorProto) => g.node.filter((n) => n.input.includes(t.name) && linear(n)).length;
    expect(shared.map(direct).sort()).toEqual([1, 1, 1, 1, 1, 1, 2, 2]);
    expect(shared.filter((t) => direct(t) === 1).every((t) => g.node.some((n) => n.opType === "Identity" && n.input[0] === t.name))).toBe(true);
    // Four distinct layers of four matrices, the token table: no weight is written twice.
    expect(g.initializer.filter((t) => t.dims.length === 2 && elements(t) >= 64 * 64).length).toBe(4 * 4 + 2);
    expect(tensorType(g, "ids")).toEqual({ elemType: 7, dims: ["batch", "sequence"] }); // INT64 token ids
  });

  it("tied_embedding: one table, read by Gather (ids) and through Transpose by the output MatMul", () => {
    const g = graphOf("tied_embedding");
    const gather = g.node.find((n) => n.opType === "Gather")!;
    const table = g.initializer.find((t) => t.name === gather.input[0])!;
    expect(table.dims.map(Number)).toEqual([2000, 128]);
    const transpose = g.node.find((n) => n.opType === "Transpose" && n.input[0] === table.name)!;
    const head = g.node.find((n) => n.opType === "MatMul" && n.input[1] === transpose.output[0])!;
    expect(head.output[0]).toBe("logits");
    expect(g.initializer.filter((t) => elements(t) === 2000 * 128).length).toBe(1);
  });

  it("lstm and gru: recurrent nodes with W, R and B initializers, two layers each", () => {
    for (const [name, op] of [["lstm", "LSTM"], ["gru", "GRU"]] as const) {
      const g = graphOf(name);
      const cells = g.node.filter((n) => n.opType === op);
      expect(cells.length).toBe(2);
      const inits = new Set(g.initializer.map((t) => t.name));
      for (const c of cells) expect(c.input.slice(1, 4).every((i) => inits.has(i))).toBe(true);
    }
  });

  it("convtranspose: a Conv encoder and a ConvTranspose decoder", () => {
    const ops = graphOf("convtranspose").node.map((n) => n.opType);
    expect(ops.filter((op) => op === "Conv").length).toBe(2);
    expect(ops.filter((op) => op === "ConvTranspose").length).toBe(2);
  });
});

describe("the small other architectures (--set families)", () => {
  it("each computes in onnxruntime-node what PyTorch computed on its sample input, keeping the exporter's decomposed forms", async () => {
    const families = await zooModels("small", "families");
    expect(families.map((m) => m.name)).toEqual([
      "efficientnet_b0", "mobilenet_v3_large", "shufflenet_v2", "densenet121", "googlenet", "regnet_y_400mf", "squeezenet", "convnext", "vit", "swin", "yolo", "kws",
    ]);
    for (const m of families) {
      expect([m.name, m.opset]).toEqual([m.name, m.name === "vit" || m.name === "swin" ? 14 : 13]);
      const sample = await m.sample();
      const got = (await runReference(m.bytes, sample.feeds)).logits!.data as Float32Array;
      const want = sample.outputs.logits!;
      expect([m.name, cosine(got, want) > 0.99999, Math.max(...want) - Math.min(...want) > 1e-3]).toEqual([m.name, true, true]);
    }
    const ops = (name: string) => new Set(fromBinary(ModelProtoSchema, families.find((m) => m.name === name)!.bytes).graph!.node.map((n) => n.opType));
    expect(["Sigmoid", "Mul"].every((op) => ops("efficientnet_b0").has(op))).toBe(true);
    expect(["HardSigmoid", "Mul"].every((op) => ops("mobilenet_v3_large").has(op)) && !ops("mobilenet_v3_large").has("HardSwish")).toBe(true);
    expect(ops("densenet121").has("BatchNormalization")).toBe(true);
    expect(["ScatterND", "Mod"].every((op) => ops("swin").has(op))).toBe(true);
    expect(["Resize", "Softmax", "Slice", "MaxPool"].filter((op) => !ops("yolo").has(op))).toEqual([]);
    // The keyword spotter's 1-D layers: Conv over [N, C, L] (BatchNorm folded into it), MaxPool, the mean over time.
    const kws = fromBinary(ModelProtoSchema, families.find((m) => m.name === "kws")!.bytes).graph!;
    expect(kws.initializer.filter((t) => t.name.endsWith("weight") || t.dims.length === 3).every((t) => t.dims.length <= 3)).toBe(true);
    expect(["Conv", "MaxPool", "ReduceMean"].filter((op) => !ops("kws").has(op))).toEqual([]);
  });
});
