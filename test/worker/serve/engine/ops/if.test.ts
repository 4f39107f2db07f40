// If on the kernel engine: a condition that folds at plan time (a constant, or shape arithmetic on the input's dims)
// runs the branch it takes, against onnxruntime-node at batch 1 and 3; branches that read outer values and their own
// weights, that define the same names, that hand on an outer value or a constant, and Ifs nested in branches. A
// condition computed from a small input (an int64 sample rate, a bool flag) runs each value's branch against
// onnxruntime-node, in any order; a branch op the engine lacks, or a condition computed from data, leaves the model to
// onnxruntime-web with the reason.
import { describe, expect, it } from "vitest";
import type { GraphProto, NodeProto, TensorProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { kernelCoverage } from "@worker/serve/engine";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel } from "@worker/onnx/codec";
import { plainKernelModule } from "@test/support/kernels";
import { loadKernels, maxRelDiff, runReference, type Feeds } from "@test/support/engine";
import { ifNode } from "@test/support/graphs";
import { rng } from "@test/support/models";
import { floatTensor, ort, runReference as runOrt } from "@test/support/ort-node";

const next = rng(20261205);
const weights = (name: string, dims: number[]) => makeTensor(name, DT.FLOAT, dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => next() - 0.5));
/** A branch output's value info without a shape (makeValueInfo with [] would claim rank 0). */
function unshaped(name: string) {
  const v = makeValueInfo(name, DT.FLOAT, []);
  if (v.type?.value.case === "tensorType") v.type.value.value.shape = undefined;
  return v;
}
const bool = (name: string, v: boolean) => makeTensor(name, DT.BOOL, [], new Uint8Array([v ? 1 : 0]));

/** A branch: MatMul of the outer `h` by its own weight (`w` unless named, alike in both branches), then `act`. */
function branch(tag: string, act: string, weight = "w"): GraphProto {
  return makeGraph(
    [makeNode("MatMul", ["h", weight], ["z"], `${tag}/mm`), makeNode(act, ["z"], ["y"], `${tag}/act`)],
    tag,
    [],
    [unshaped("y")],
    [weights(weight, [16, 8])],
  );
}

/** x [N, 12] -> MatMul -> Relu = h; If(cond) over h; the If's output through a last MatMul. */
function model(cond: NodeProto[], inits: TensorProto[], iff: NodeProto): Uint8Array {
  const graph = makeGraph(
    [makeNode("MatMul", ["x", "w0"], ["h0"], "stem"), makeNode("Relu", ["h0"], ["h"], "stem/relu"), ...cond, iff, makeNode("MatMul", ["y", "w2"], ["out"], "head")],
    "if",
    [makeValueInfo("x", DT.FLOAT, ["N", 12])],
    [makeValueInfo("out", DT.FLOAT, ["N", 4])],
    [weights("w0", [12, 16]), weights("w2", [8, 4]), ...inits],
  );
  return encodeModel(makeModel(graph, { "": 13 }));
}

function feeds(batch: number, seed: number): Feeds {
  const r = rng(seed);
  return { x: { dims: [batch, 12], data: Float32Array.from({ length: batch * 12 }, () => r() * 2 - 1) } };
}

async function expectLikeReference(bytes: Uint8Array, batches = [1, 3]) {
  const session = loadKernels(bytes);
  for (const batch of batches) {
    const f = feeds(batch, batch);
    const got = await session.run({ x: { type: "float32", ...f.x! } });
    const want = await runReference(bytes, f);
    expect(got.out!.dims, `batch ${batch}`).toEqual(want.out!.dims);
    expect(maxRelDiff(got.out!.data as Float32Array, want.out!.data), `batch ${batch}`).toBeLessThan(1e-5);
  }
  await session.release();
}

describe("If with a condition that folds at plan time", () => {
  for (const taken of [true, false]) {
    it(`runs the ${taken ? "then" : "else"} branch of a constant condition; both branches name their weight and values alike`, async () => {
      const bytes = model([], [bool("cond", taken)], ifNode("cond", ["y"], branch("then", "Relu"), branch("else", "Sigmoid")));
      expect(kernelCoverage(decodeModel(bytes), plainKernelModule)).toBeNull();
      await expectLikeReference(bytes);
    });
  }

  it("takes the branch the input's batch chooses (Equal on Shape), each batch size planned for its own", async () => {
    const cond = [
      makeNode("Shape", ["x"], ["shape"], "shape"),
      makeNode("Gather", ["shape", "zero"], ["batch"], "batch", { axis: 0 }),
      makeNode("Equal", ["batch", "one"], ["single"], "single"),
    ];
    const consts = [makeTensor("zero", DT.INT64, [], new BigInt64Array([0n])), makeTensor("one", DT.INT64, [], new BigInt64Array([1n]))];
    const bytes = model(cond, consts, ifNode("single", ["y"], branch("then", "Relu"), branch("else", "Tanh")));
    await expectLikeReference(bytes, [1, 3, 1]);
  });

  it("hands on an outer value or a branch's constant as a branch's output, and opens Ifs nested in a branch", async () => {
    const passThrough = makeGraph([makeNode("Identity", ["h"], ["p"], "pass")], "pass", [], [unshaped("p")], []);
    const inner = ifNode("inner_cond", ["y"], branch("inner_then", "Sigmoid"), branch("inner_else", "Relu"), "inner");
    const outerThen = makeGraph([inner], "outer_then", [], [unshaped("y")], [bool("inner_cond", false)]);
    const outerElse = branch("outer_else", "Tanh");
    const twoOutputs = ifNode("cond", ["y", "h2"], { ...outerThen, node: [...outerThen.node, ...passThrough.node], output: [...outerThen.output, ...passThrough.output] }, {
      ...outerElse,
      node: [...outerElse.node, makeNode("Neg", ["h"], ["q"], "neg")],
      output: [...outerElse.output, unshaped("q")],
    });
    for (const taken of [true, false]) {
      const graph = decodeModel(model([], [bool("cond", taken)], twoOutputs)).graph!;
      // Both outputs reach the graph: the second through an Add with the stem's activation.
      graph.node.push(makeNode("Add", ["h2", "h"], ["side"], "side"));
      graph.output.push(makeValueInfo("side", DT.FLOAT, ["N", 16]));
      const bytes = encodeModel(makeModel(graph, { "": 13 }));
      await expectLikeReference(bytes);
      const session = loadKernels(bytes);
      const f = feeds(3, 7);
      const got = await session.run({ x: { type: "float32", ...f.x! } });
      const want = await runReference(bytes, f);
      expect(maxRelDiff(got.side!.data as Float32Array, want.side!.data), `then ${taken}`).toBeLessThan(1e-5);
    }
  });

  it("runs an int8 variant whose weights inside the branches are quantized, both branches' weights named alike", async () => {
    // Each branch holds its own `w`: two weights (the second renamed w_1), not one shared.
    const bytes = model([], [bool("cond", false)], ifNode("cond", ["y"], branch("then", "Relu"), branch("else", "Sigmoid")));
    const variant = compressModel(decodeModel(bytes), RecipeSchema.parse({ quantize: { bits: 8 } }));
    expect(variant.tensors.map((t) => t.name).sort()).toEqual(["w", "w0", "w2", "w_1"]);
    const session = loadKernels(variant.bytes);
    const f = feeds(3, 11);
    const got = await session.run({ x: { type: "float32", ...f.x! } });
    const want = await runReference(variant.bytes, f);
    expect(maxRelDiff(got.out!.data as Float32Array, want.out!.data)).toBeLessThan(3e-2);
  });
});

describe("If with a condition computed from a small input (a sample rate, a mode flag)", () => {
  /** The model with `cond` computed by `nodes` from a scalar input `name` of `type`. */
  function controlled(name: string, type: number, nodes: NodeProto[], consts: TensorProto[], elseAct = "Sigmoid"): Uint8Array {
    const graph = decodeModel(model(nodes, consts, ifNode("cond", ["y"], branch("then", "Relu"), branch("else", elseAct), "by_rate"))).graph!;
    graph.input.push(makeValueInfo(name, type, []));
    return encodeModel(makeModel(graph, { "": 13 }));
  }
  const rateModel = () => controlled("sr", DT.INT64, [makeNode("Equal", ["sr", "rate16k"], ["cond"], "is16k")], [makeTensor("rate16k", DT.INT64, [], new BigInt64Array([16000n]))]);

  async function expectLikeOrt(bytes: Uint8Array, control: string, values: ort.Tensor[]) {
    const session = loadKernels(bytes);
    for (const [k, value] of values.entries()) {
      for (const batch of [1, 3]) {
        const f = feeds(batch, 5 + k);
        const data = value.data as BigInt64Array | Uint8Array;
        const type = value.type === "int64" ? "int64" : "bool";
        const got = await session.run({ x: { type: "float32", ...f.x! }, [control]: { type, dims: [], data } });
        const want = await runOrt(bytes, { x: floatTensor(f.x!.data as Float32Array, f.x!.dims), [control]: value });
        expect(maxRelDiff(got.out!.data as Float32Array, want.out!.data as Float32Array), `${control}=${value.data[0]} batch ${batch}`).toBeLessThan(1e-5);
      }
    }
    await session.release();
  }

  it("runs the branch an int64 sample rate chooses (Equal on the input), each rate planned for its own, in any order", async () => {
    const bytes = rateModel();
    expect(kernelCoverage(decodeModel(bytes), plainKernelModule)).toBeNull();
    const rate = (r: bigint) => new ort.Tensor("int64", new BigInt64Array([r]), []);
    await expectLikeOrt(bytes, "sr", [rate(16000n), rate(8000n), rate(16000n), rate(0n)]);
  });

  it("runs branches whose constants are Constant nodes (as torch.jit.script writes them), chosen by a sample rate", async () => {
    // Each branch: its MatMul's weight and an added offset come from Constant nodes inside the branch.
    const constBranch = (tag: string, act: string) =>
      makeGraph(
        [
          makeNode("Constant", [], ["k_w"], `${tag}/w`, { value: weights("", [16, 8]) }),
          makeNode("Constant", [], ["k_b"], `${tag}/b`, { value: weights("", [8]) }),
          makeNode("MatMul", ["h", "k_w"], ["z0"], `${tag}/mm`),
          makeNode("Add", ["z0", "k_b"], ["z"], `${tag}/add`),
          makeNode(act, ["z"], ["y"], `${tag}/act`),
        ],
        tag,
        [],
        [unshaped("y")],
        [],
      );
    const cond = [makeNode("Equal", ["sr", "rate16k"], ["cond"], "is16k")];
    const graph = decodeModel(model(cond, [makeTensor("rate16k", DT.INT64, [], new BigInt64Array([16000n]))], ifNode("cond", ["y"], constBranch("then", "Relu"), constBranch("else", "Tanh")))).graph!;
    graph.input.push(makeValueInfo("sr", DT.INT64, []));
    const bytes = encodeModel(makeModel(graph, { "": 13 }));
    const rate = (r: bigint) => new ort.Tensor("int64", new BigInt64Array([r]), []);
    await expectLikeOrt(bytes, "sr", [rate(8000n), rate(16000n)]);
  });

  it("runs the branch a bool flag input chooses when it is the condition itself", async () => {
    const graph = decodeModel(model([], [], ifNode("flag", ["y"], branch("then", "Relu"), branch("else", "Tanh"), "mode"))).graph!;
    graph.input.push(makeValueInfo("flag", DT.BOOL, []));
    const bytes = encodeModel(makeModel(graph, { "": 13 }));
    const flag = (v: boolean) => new ort.Tensor("bool", new Uint8Array([v ? 1 : 0]), []);
    await expectLikeOrt(bytes, "flag", [flag(false), flag(true), flag(false)]);
  });

  it("leaves the model to onnxruntime-web when a branch holds an op the engine lacks, naming it", () => {
    const bytes = controlled("sr", DT.INT64, [makeNode("Equal", ["sr", "rate16k"], ["cond"], "is16k")], [makeTensor("rate16k", DT.INT64, [], new BigInt64Array([16000n]))], "Shrink");
    expect(kernelCoverage(decodeModel(bytes), plainKernelModule)).toMatch(/no kernel-engine op for Shrink \(node else\/act, in an If branch\)/);
  });
});

describe("If whose branch holds an initializer named like an outer value", () => {
  it("is not covered (onnxruntime reads the outer value there, scoping rules the branch's): the reason names it", () => {
    const bytes = model([], [bool("cond", true), weights("w", [16, 8])], ifNode("cond", ["y"], branch("then", "Relu"), branch("else", "Sigmoid"), "shadow"));
    expect(kernelCoverage(decodeModel(bytes), plainKernelModule)).toMatch(/If node shadow: the branch's initializer 'w' has the name of an outer value/);
  });
});

describe("If with a condition computed from data at run time", () => {
  it("is not covered: the model goes to onnxruntime-web, and the reason names the If", () => {
    // The condition is whether the stem's activations sum above zero: known only once the input's values are.
    const cond = [makeNode("ReduceSum", ["h"], ["total"], "total", { keepdims: 0 }), makeNode("Greater", ["total", "zerof"], ["cond"], "positive")];
    const bytes = model(cond, [makeTensor("zerof", DT.FLOAT, [], new Float32Array([0]))], ifNode("cond", ["y"], branch("then", "Relu"), branch("else", "Sigmoid"), "mode"));
    expect(kernelCoverage(decodeModel(bytes), plainKernelModule)).toMatch(/If node mode: its condition 'cond' is computed at run time/);
  });
});
