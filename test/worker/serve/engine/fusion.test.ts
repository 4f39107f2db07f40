// The fusion pre-pass: decomposed layer norms, Erf GELUs, SiLUs and HardSwishes, written in the exporters' orders, become one node each;
// the engine runs the fused graph and its outputs agree with onnxruntime-node running the decomposed graph (1e-5
// relative, odd sizes, batch 1 and 3). A chain stays as it is when an intermediate has another reader or is a graph
// output, or a constant differs from the pattern's.
import { describe, expect, it } from "vitest";
import type { NodeProto, TensorProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { fuseGraph } from "@worker/serve/engine/fusion";
import { readConstant } from "@worker/serve/engine/values";
import { compare, inputMaker, type Input } from "@test/support/op-graphs";
import { zooModel } from "@test/support/zoo";

const { int, rand, live } = inputMaker(20261206);

const scalarNode = (name: string, v: number) => makeNode("Constant", [], [name], name, { value: makeTensor(name, DT.FLOAT, [], Float32Array.of(v)) });
const floats = (name: string, dims: number[], a = 1) => makeTensor(name, DT.FLOAT, dims, rand(dims.reduce((p, d) => p * d, 1), a));

interface LayerNormForm {
  axes?: number[];
  gammaDims?: number[] | null; // null: no gamma and no beta
  beta?: boolean;
  square?: "pow" | "mul";
  swapped?: boolean; // gamma * n and beta + (...)
  opset?: number;
  eps?: number;
}

/** x -> decomposed layer norm -> y, as torch.onnx writes it (with the form's variations). */
function layerNormNodes(x: string, y: string, f: LayerNormForm, p = ""): NodeProto[] {
  const axes = f.axes ?? [-1];
  const opset = f.opset ?? 13;
  const reduce = (i: string, o: string) =>
    opset >= 18 ? makeNode("ReduceMean", [i, `${p}axes`], [o], `${p}rm-${o}`) : makeNode("ReduceMean", [i], [o], `${p}rm-${o}`, { axes });
  const nodes = [
    ...(opset >= 18 ? [makeNode("Constant", [], [`${p}axes`], `${p}axes`, { value: makeTensor(`${p}axes`, DT.INT64, [axes.length], new Int32Array(axes.flatMap((a) => [a, a < 0 ? -1 : 0]))) })] : []),
    reduce(x, `${p}m`),
    makeNode("Sub", [x, `${p}m`], [`${p}d`], `${p}sub`),
    ...(f.square === "mul"
      ? [makeNode("Mul", [`${p}d`, `${p}d`], [`${p}p`], `${p}sq`)]
      : [scalarNode(`${p}two`, 2), makeNode("Pow", [`${p}d`, `${p}two`], [`${p}p`], `${p}pow`)]),
    reduce(`${p}p`, `${p}v`),
    scalarNode(`${p}eps`, f.eps ?? 1e-5),
    makeNode("Add", [`${p}v`, `${p}eps`], [`${p}ve`], `${p}add-eps`),
    makeNode("Sqrt", [`${p}ve`], [`${p}sd`], `${p}sqrt`),
  ];
  const last = f.gammaDims === null ? y : `${p}n`;
  nodes.push(makeNode("Div", [`${p}d`, `${p}sd`], [last], `${p}div`));
  if (f.gammaDims !== null) {
    const out = f.beta === false ? y : `${p}ng`;
    nodes.push(makeNode("Mul", f.swapped ? [`${p}gamma`, `${p}n`] : [`${p}n`, `${p}gamma`], [out], `${p}mul-gamma`));
    if (f.beta !== false) nodes.push(makeNode("Add", f.swapped ? [`${p}beta`, `${p}ng`] : [`${p}ng`, `${p}beta`], [y], `${p}add-beta`));
  }
  return nodes;
}

type GeluForm = "torch" | "half-first" | "half-last" | "div-two";

/** x -> decomposed Erf GELU -> y in one of the exporters' orders. */
function geluNodes(x: string, y: string, form: GeluForm, p = ""): NodeProto[] {
  const scale =
    form === "half-first"
      ? [scalarNode(`${p}rs2`, Math.SQRT1_2), makeNode("Mul", [`${p}rs2`, x], [`${p}u`], `${p}scale`)]
      : [scalarNode(`${p}s2`, Math.SQRT2), makeNode("Div", [x, `${p}s2`], [`${p}u`], `${p}scale`)];
  const head = [...scale, makeNode("Erf", [`${p}u`], [`${p}e`], `${p}erf`), scalarNode(`${p}one`, 1)];
  const half = scalarNode(`${p}half`, 0.5);
  switch (form) {
    case "torch": // (x * (1 + erf)) * 0.5
      return [...head, makeNode("Add", [`${p}e`, `${p}one`], [`${p}o`], `${p}plus1`), makeNode("Mul", [x, `${p}o`], [`${p}t`], `${p}mul-x`), half, makeNode("Mul", [`${p}t`, `${p}half`], [y], `${p}mul-half`)];
    case "half-first": // (0.5 * x) * (1 + erf)
      return [...head, makeNode("Add", [`${p}one`, `${p}e`], [`${p}o`], `${p}plus1`), half, makeNode("Mul", [`${p}half`, x], [`${p}h`], `${p}mul-half`), makeNode("Mul", [`${p}o`, `${p}h`], [y], `${p}mul-x`)];
    case "half-last": // x * ((1 + erf) * 0.5)
      return [...head, makeNode("Add", [`${p}e`, `${p}one`], [`${p}o`], `${p}plus1`), half, makeNode("Mul", [`${p}o`, `${p}half`], [`${p}t`], `${p}mul-half`), makeNode("Mul", [x, `${p}t`], [y], `${p}mul-x`)];
    case "div-two": // (x * (1 + erf)) / 2
      return [...head, makeNode("Add", [`${p}e`, `${p}one`], [`${p}o`], `${p}plus1`), makeNode("Mul", [`${p}o`, x], [`${p}t`], `${p}mul-x`), scalarNode(`${p}two`, 2), makeNode("Div", [`${p}t`, `${p}two`], [y], `${p}div-two`)];
  }
}

function model(nodes: NodeProto[], inputs: Input[], inits: TensorProto[], outRank: number, outputs = ["y"], opset = 13): Uint8Array {
  const graph = makeGraph(
    nodes,
    "decomposed",
    inputs.map((i) => makeValueInfo(i.name, DT.FLOAT, i.dims)),
    outputs.map((o) => makeValueInfo(o, DT.FLOAT, new Array(outRank).fill(null))),
    inits,
  );
  return encodeModel(makeModel(graph, { "": opset }, opset >= 21 ? 10 : 8));
}

function fused(bytes: Uint8Array): NodeProto[] {
  const g = decodeModel(bytes).graph!;
  const constants = new Map(g.initializer.map((t) => [t.name, readConstant(t)]));
  const opset = Number(decodeModel(bytes).opsetImport.find((o) => o.domain === "")?.version ?? 13);
  return fuseGraph(g.node, constants, new Set(g.output.map((o) => o.name)), opset);
}

const opTypes = (nodes: NodeProto[]) => nodes.map((n) => n.opType);

describe("fusing decomposed layer norm and GELU", () => {
  for (const batch of [1, 3]) {
    it(`runs decomposed layer norms as one LayerNormalization, equal to onnxruntime on the decomposed graph, batch ${batch}`, async () => {
      const [S, D] = [int(2, 9), int(3, 67)];
      const forms: [LayerNormForm, number[] | null][] = [
        [{ gammaDims: [D] }, [D]],
        [{ gammaDims: [D], swapped: true, square: "mul" }, [D]],
        [{ gammaDims: [D], beta: false }, [D]],
        [{ gammaDims: null }, null],
        [{ gammaDims: [1, 1, D], opset: 18 }, [1, 1, D]],
        [{ axes: [-2, -1], gammaDims: [S, D] }, [S, D]],
        [{ axes: [-1, -2], gammaDims: [D] }, [D]], // gamma repeats along the normalized rows
        [{ gammaDims: [S, D] }, [S, D]], // gamma varies across rows: the broadcasting path
        [{ gammaDims: [1] }, [1]],
        [{ gammaDims: [D], eps: 1 }, [D]],
      ];
      for (const [form, betaDims] of forms) {
        const x = live("x", [batch, S, D]);
        const inits = form.gammaDims ? [floats("gamma", form.gammaDims), floats("beta", betaDims!)] : [];
        const bytes = model(layerNormNodes("x", "y", form), [x], inits, 3, ["y"], form.opset ?? 13);
        expect([form, opTypes(fused(bytes))]).toEqual([form, ["LayerNormalization"]]);
        await compare(bytes, [x]);
      }
    });

    it(`runs decomposed Erf GELUs as one Gelu after a MatMul with bias, batch ${batch}`, async () => {
      const [S, K, N] = [int(2, 9), int(3, 40), int(3, 70)];
      for (const form of ["torch", "half-first", "half-last", "div-two"] as const) {
        const x = live("x", [batch, S, K]);
        const nodes = [makeNode("MatMul", ["x", "w"], ["mm"], "mm"), makeNode("Add", ["b", "mm"], ["hb"], "bias"), ...geluNodes("hb", "y", form)];
        const bytes = model(nodes, [x], [floats("w", [K, N], 2), floats("b", [N])], 3);
        expect([form, opTypes(fused(bytes))]).toEqual([form, ["MatMul", "Add", "Gelu"]]);
        await compare(bytes, [x]);
      }
    });
  }

  for (const batch of [1, 3]) {
    it(`runs SiLU written as Sigmoid then Mul (either operand order) after a Conv as one Swish, batch ${batch}`, async () => {
      const [C, M, H] = [int(1, 5), int(2, 9), int(3, 11)];
      for (const swapped of [false, true]) {
        const x = live("x", [batch, C, H, H + 2]);
        const nodes = [
          makeNode("Conv", ["x", "w", "b"], ["c"], "conv", { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
          makeNode("Sigmoid", ["c"], ["s"], "sigmoid"),
          makeNode("Mul", swapped ? ["s", "c"] : ["c", "s"], ["y"], "mul"),
        ];
        const bytes = model(nodes, [x], [floats("w", [M, C, 3, 3], 3), floats("b", [M])], 4);
        expect([swapped, opTypes(fused(bytes))]).toEqual([swapped, ["Conv", "Swish"]]);
        await compare(bytes, [x]);
      }
    });
  }

  for (const batch of [1, 3]) {
    it(`runs HardSwish written as HardSigmoid (alpha 1/6, beta 1/2) then Mul, as torch writes it before opset 14, as one HardSwish, batch ${batch}`, async () => {
      for (const swapped of [false, true]) {
        const dims = [batch, int(1, 6), int(3, 11)];
        const spread: Input = { name: "x", dims, data: rand(dims.reduce((p, d) => p * d, 1), 5) }; // both kinks and the linear part
        const nodes = [makeNode("HardSigmoid", ["x"], ["h"], "hardsigmoid", { alpha: { float: 1 / 6 }, beta: { float: 0.5 } }), makeNode("Mul", swapped ? ["h", "x"] : ["x", "h"], ["y"], "mul")];
        const bytes = model(nodes, [spread], [], 3);
        expect([swapped, opTypes(fused(bytes))]).toEqual([swapped, ["HardSwish"]]);
        await compare(bytes, [spread]);
      }
    });
  }

  it("leaves HardSigmoid then Mul alone when its alpha or beta is not HardSwish's, or the Mul gates something else", () => {
    const x = live("x", [2, 6]);
    const r = live("r", [2, 6]);
    const other = [makeNode("HardSigmoid", ["x"], ["h"], "hs"), makeNode("Mul", ["x", "h"], ["y"], "mul")]; // alpha 0.2 by default
    expect(opTypes(fused(model(other, [x], [], 2)))).toEqual(["HardSigmoid", "Mul"]);
    const gate = [makeNode("HardSigmoid", ["x"], ["h"], "hs", { alpha: { float: 1 / 6 } }), makeNode("Mul", ["r", "h"], ["y"], "mul")];
    expect(opTypes(fused(model(gate, [x, r], [], 2)))).toEqual(["HardSigmoid", "Mul"]);
  });

  it("leaves Sigmoid then Mul alone when the Mul scales something else or the sigmoid is read elsewhere", () => {
    const x = live("x", [2, 6]);
    const r = live("r", [2, 6]);
    // A gate (sigmoid of one tensor times another), as squeeze-and-excitation and LSTMs write it.
    const gate = [makeNode("Sigmoid", ["x"], ["s"], "sigmoid"), makeNode("Mul", ["r", "s"], ["y"], "mul")];
    expect(opTypes(fused(model(gate, [x, r], [], 2)))).toEqual(["Sigmoid", "Mul"]);
    const shared = [makeNode("Sigmoid", ["x"], ["s"], "sigmoid"), makeNode("Mul", ["x", "s"], ["y"], "mul"), makeNode("Relu", ["s"], ["z"], "relu")];
    expect(opTypes(fused(model(shared, [x], [], 2, ["y", "z"])))).toEqual(["Sigmoid", "Mul", "Relu"]);
    const visible = [makeNode("Sigmoid", ["x"], ["s"], "sigmoid"), makeNode("Mul", ["s", "x"], ["y"], "mul")];
    expect(opTypes(fused(model(visible, [x], [], 2, ["y", "s"])))).toEqual(["Sigmoid", "Mul"]);
    const squared = [makeNode("Sigmoid", ["x"], ["s"], "sigmoid"), makeNode("Mul", ["s", "s"], ["y"], "mul")];
    expect(opTypes(fused(model(squared, [x], [], 2)))).toEqual(["Sigmoid", "Mul"]);
  });

  it("runs an encoder block's tail: residual Add, layer norm, feed-forward with GELU, layer norm", async () => {
    const [S, D, F] = [13, 24, 40];
    const x = live("x", [3, S, D]);
    const r = live("r", [3, S, D]);
    const nodes = [
      makeNode("Add", ["x", "r"], ["h0"], "residual"),
      ...layerNormNodes("h0", "h1", { gammaDims: [D] }, "ln1/"),
      makeNode("MatMul", ["h1", "w1"], ["f0"], "ff1"),
      makeNode("Add", ["b1", "f0"], ["f1"], "ff1-bias"),
      ...geluNodes("f1", "f2", "torch", "gelu/"),
      makeNode("MatMul", ["f2", "w2"], ["f3"], "ff2"),
      makeNode("Add", ["h1", "f3"], ["h2"], "residual2"),
      ...layerNormNodes("h2", "y", { gammaDims: [D] }, "ln2/"),
    ];
    const inits = [floats("ln1/gamma", [D]), floats("ln1/beta", [D]), floats("w1", [D, F]), floats("b1", [F]), floats("w2", [F, D]), floats("ln2/gamma", [D]), floats("ln2/beta", [D])];
    const bytes = model(nodes, [x, r], inits, 3);
    expect(opTypes(fused(bytes))).toEqual(["Add", "LayerNormalization", "MatMul", "Add", "Gelu", "MatMul", "Add", "LayerNormalization"]);
    await compare(bytes, [x, r]);
  });

  it("leaves a chain alone when an intermediate has another reader or is a graph output", () => {
    const x = live("x", [2, 5, 7]);
    const inits = [floats("gamma", [7]), floats("beta", [7])];
    // The centred values also feed another node: the layer norm stays decomposed (the GELU after it still fuses).
    const shared = [...layerNormNodes("x", "n", { gammaDims: [7] }), makeNode("Relu", ["d"], ["z"], "relu"), ...geluNodes("n", "y", "torch")];
    expect(opTypes(fused(model(shared, [x], inits, 3, ["y", "z"])))).toEqual([
      "ReduceMean", "Sub", "Constant", "Pow", "ReduceMean", "Constant", "Add", "Sqrt", "Div", "Mul", "Add", "Relu", "Gelu",
    ]);
    // Erf's output is a graph output: the GELU stays.
    const visible = geluNodes("x", "y", "torch");
    expect(opTypes(fused(model(visible, [x], [], 3, ["y", "e"])))).toEqual(opTypes(visible));
    // x * (1 + erf) read elsewhere too.
    const read = [...geluNodes("x", "y", "torch"), makeNode("Relu", ["t"], ["z"], "relu")];
    expect(opTypes(fused(model(read, [x], [], 3, ["y", "z"])))).toEqual(opTypes(read));
    // The variance's Add also read elsewhere.
    const eps = [...layerNormNodes("x", "y", { gammaDims: [7] }), makeNode("Relu", ["ve"], ["z"], "relu")];
    expect(opTypes(fused(model(eps, [x], inits, 3, ["y", "z"])))).toEqual(opTypes(eps));
  });

  it("leaves a chain alone when its constants differ from the pattern's", () => {
    const x = live("x", [2, 7]);
    const cube = layerNormNodes("x", "y", { gammaDims: null }).map((n) => (n.name === "two" ? scalarNode("two", 3) : n));
    expect(opTypes(fused(model(cube, [x], [], 2)))).toEqual(opTypes(cube));
    const notHalf = geluNodes("x", "y", "torch").map((n) => (n.name === "half" ? scalarNode("half", 0.25) : n));
    expect(opTypes(fused(model(notHalf, [x], [], 2)))).toEqual(opTypes(notHalf));
    const notRoot2 = geluNodes("x", "y", "torch").map((n) => (n.name === "s2" ? scalarNode("s2", 1.5) : n));
    expect(opTypes(fused(model(notRoot2, [x], [], 2)))).toEqual(opTypes(notRoot2));
    // Mean over a leading axis is not a layer norm.
    const leading = layerNormNodes("x", "y", { gammaDims: null, axes: [0] });
    expect(opTypes(fused(model(leading, [x], [], 2)))).toEqual(opTypes(leading));
  });

  it("fuses every layer norm and GELU of the zoo's transformer and tied embedding", async () => {
    for (const [name, norms, gelus] of [["transformer", 13, 6], ["tied_embedding", 1, 1]] as const) {
      const nodes = fused((await zooModel(name)).bytes);
      const count = (op: string) => nodes.filter((n) => n.opType === op).length;
      expect([name, count("LayerNormalization"), count("Gelu"), count("Erf"), count("Pow"), count("Sqrt")]).toEqual([name, norms, gelus, 0, 0, 0]);
    }
  });
});

/** int8 levels in [-127, 127] as onnxruntime's quantize_dynamic stores QInt8 weights (zero point 0), or uint8 around 128. */
function levels(name: string, dims: number[], unsigned: boolean): TensorProto {
  const n = dims.reduce((p, d) => p * d, 1);
  const q = Int8Array.from({ length: n }, () => int(-127, 127));
  return unsigned ? makeTensor(name, DT.UINT8, dims, Uint8Array.from(q, (v) => v + 128)) : makeTensor(name, DT.INT8, dims, q);
}

interface DynamicForm {
  op: "MatMulInteger" | "ConvInteger";
  /** Weight levels as uint8 around zero point 128 (the `dynamic` scheme here) rather than int8 with zero point 0. */
  unsigned?: boolean;
  /** Scale dims: [] one per tensor, else per channel ([N] for MatMul, [M, 1, 1] for Conv). */
  scaleDims: readonly number[];
  /** The scale product written s * ws (onnxruntime's order) or ws * s. */
  swapped?: boolean;
}

/**
 * x -> DynamicQuantizeLinear -> MatMulInteger / ConvInteger (weight `${p}w` of `dims`) -> Cast -> Mul by (s * ws) -> y,
 * as quantize_dynamic writes a layer.
 */
function dynamicLayer(x: string, y: string, dims: number[], f: DynamicForm, p = "", quantized?: string[]): { nodes: NodeProto[]; inits: TensorProto[] } {
  const [q, s, z] = quantized ?? [`${p}xq`, `${p}xs`, `${p}xz`];
  const zero = f.unsigned ? makeTensor(`${p}wz`, DT.UINT8, [], Uint8Array.of(128)) : makeTensor(`${p}wz`, DT.INT8, [], Int8Array.of(0));
  const channels = f.scaleDims.reduce((a, b) => a * b, 1);
  const scale = makeTensor(`${p}ws`, DT.FLOAT, [...f.scaleDims], Float32Array.from({ length: channels }, () => 0.002 + 0.01 * Math.abs(rand(1)[0]!)));
  const attrs: Record<string, number[]> = f.op === "ConvInteger" ? { kernel_shape: dims.slice(2), pads: dims.slice(2).flatMap(() => [1, 1]) } : {};
  const nodes = [
    ...(quantized ? [] : [makeNode("DynamicQuantizeLinear", [x], [q!, s!, z!], `${p}dql`)]),
    makeNode(f.op, [q!, `${p}w`, z!, `${p}wz`], [`${p}acc`], `${p}integer`, attrs),
    makeNode("Cast", [`${p}acc`], [`${p}accf`], `${p}cast`, { to: DT.FLOAT }),
    makeNode("Mul", f.swapped ? [`${p}ws`, s!] : [s!, `${p}ws`], [`${p}sp`], `${p}scales`),
    makeNode("Mul", [`${p}accf`, `${p}sp`], [y], `${p}rescale`),
  ];
  return { nodes, inits: [levels(`${p}w`, dims, f.unsigned ?? false), zero, scale] };
}

describe("dynamic int8 layers as the weight-only form", () => {
  for (const batch of [1, 3]) {
    it(`runs quantize_dynamic's MatMul layers (per tensor and per column, 2-D and 3-D inputs, bias after) on the int8 kernels, near onnxruntime on the integer graph, batch ${batch}`, async () => {
      const [S, K, N] = [int(2, 5), int(33, 70), int(9, 40)];
      for (const [rank, f] of [[2, { op: "MatMulInteger", scaleDims: [] }], [3, { op: "MatMulInteger", scaleDims: [N], unsigned: true, swapped: true }]] as const) {
        const x = live("x", rank === 2 ? [batch, K] : [batch, S, K]);
        const layer = dynamicLayer("x", "h", [K, N], f);
        const bias = floats("b", [N]);
        const bytes = model([...layer.nodes, makeNode("Add", ["h", "b"], ["y"], "bias")], [x], [...layer.inits, bias], rank);
        expect(opTypes(fused(bytes))).toEqual(["DequantizeLinear", "MatMul", "Add"]);
        // The engine quantizes each row's activations where onnxruntime puts the tensor on one uint8 grid.
        await compare(bytes, [x], 3e-2);
      }
    });

    it(`runs ConvInteger layers (per tensor; per channel [M, 1, 1] on uint8 levels) on the int8 kernels, near onnxruntime on the integer graph, batch ${batch}`, async () => {
      const [C, M, H] = [int(5, 9), int(5, 12), int(6, 11)];
      for (const f of [{ op: "ConvInteger", scaleDims: [] }, { op: "ConvInteger", scaleDims: [M, 1, 1], unsigned: true }] as const) {
        const x = live("x", [batch, C, H, H + 1]);
        const layer = dynamicLayer("x", "y", [M, C, 3, 3], f);
        const bytes = model(layer.nodes, [x], layer.inits, 4);
        expect(opTypes(fused(bytes))).toEqual(["DequantizeLinear", "Conv"]);
        await compare(bytes, [x], 3e-2);
      }
    });
  }

  it("dequantizes a weight once for every layer that shares it, and drops the DynamicQuantizeLinear all its readers leave", () => {
    const K = 16;
    const a = dynamicLayer("x", "ya", [K, K], { op: "MatMulInteger", scaleDims: [K] }, "a/");
    const b = dynamicLayer("x", "yb", [K, K], { op: "MatMulInteger", scaleDims: [K] }, "b/", ["a/xq", "a/xs", "a/xz"]);
    // The second layer reads the first's weight, zero point and scale, and the same quantized activation.
    const shared = b.nodes.map((n) => ({ ...n, input: n.input.map((i) => i.replace(/^b\/(w|wz|ws)$/, "a/$1")) }));
    const nodes = fused(model([...a.nodes, ...shared], [live("x", [2, K])], a.inits, 2, ["ya", "yb"]));
    expect(opTypes(nodes)).toEqual(["DequantizeLinear", "MatMul", "MatMul"]);
    expect(nodes[1]!.input).toEqual(["x", nodes[0]!.output[0]]);
    expect(nodes[2]!.input).toEqual(["x", nodes[0]!.output[0]]);
  });

  it("leaves a dynamic layer alone when the quantized activation or the integer sums have another reader, the Cast is not to float, or the weight scale is not per channel", () => {
    const K = 12;
    const plain = dynamicLayer("x", "y", [K, 8], { op: "MatMulInteger", scaleDims: [8] });
    const x = live("x", [2, K]);
    const unchanged = (nodes: NodeProto[], inits = plain.inits, outputs = ["y"]) =>
      expect(opTypes(fused(model(nodes, [x], inits, 2, outputs)))).toEqual(opTypes(nodes));
    // The integer sums are a graph output too.
    unchanged(plain.nodes, plain.inits, ["y", "acc"]);
    // The quantized activation is also read by an Identity (so the DynamicQuantizeLinear must stay).
    const dqlKept = fused(model([...plain.nodes, makeNode("Identity", ["xq"], ["q2"], "id")], [x], plain.inits, 2, ["y", "q2"]));
    expect(opTypes(dqlKept)).toEqual(["DynamicQuantizeLinear", "DequantizeLinear", "MatMul", "Identity"]);
    // Cast to int64, not float.
    unchanged(plain.nodes.map((n) => (n.opType === "Cast" ? makeNode("Cast", n.input, n.output, n.name, { to: DT.INT64 }) : n)));
    // A scale per row of the weight (K of them), which does not broadcast along the output's channels.
    const rows = dynamicLayer("x", "y", [K, 8], { op: "MatMulInteger", scaleDims: [K, 1] });
    unchanged(rows.nodes, rows.inits);
  });
});
