// Structure-aware, seeded fuzz cases shared by the unit fuzzers (test/worker/**/fuzz*.test.ts) and the long campaign
// against a running Worker (scripts/fuzz.mjs): valid seed models, datasets and request bodies, then mutations that
// aim at what a parser must bound (dims, data_location, raw sizes, sparse tensors, attributes, subgraphs, graph size;
// .npz/.npy headers, sizes and zip fields; JSON tensors and recipes). Plain JS so that Node runs it without a build.
import { clone, create, toBinary } from "@bufbuild/protobuf";
import {
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  SparseTensorProtoSchema,
  TensorProtoSchema,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
} from "onnx-buf";
import { encodeNpy, writeNpy } from "../../formats/npy.js";
import { encodeNpz, encodeNpzDeflated } from "../../formats/npz.js";

/** @typedef {() => number} Rand uniform [0, 1) */

/** A seeded generator (mulberry32): the same seed gives the same campaign. @param {number} seed @returns {Rand} */
export function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @template T @param {Rand} r @param {readonly T[]} xs @returns {T} */
const pick = (r, xs) => /** @type {T} */ (xs[Math.floor(r() * xs.length)]);
/** @param {Rand} r @param {number} n */
const int = (r, n) => Math.floor(r() * n);
/** Numbers a length or a dim should never be trusted with. */
const NASTY = [-1, 0, 1, 2, 3, 7, 255, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53, -(2 ** 31)];

const FLOAT = 1;
const INT64 = 7;
const AT_INT = 2;
const AT_INTS = 7;
const AT_GRAPH = 5;
const AT_TENSOR = 4;

/** @param {string} name @param {(number|string)[]} shape */
function valueInfo(name, shape) {
  const dim = shape.map((d) =>
    create(TensorShapeProto_DimensionSchema, { value: typeof d === "number" ? { case: "dimValue", value: BigInt(d) } : { case: "dimParam", value: d } }),
  );
  const tensorType = create(TypeProto_TensorSchema, { elemType: FLOAT, shape: create(TensorShapeProtoSchema, { dim }) });
  return create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: "tensorType", value: tensorType } }) });
}

/** @param {string} name @param {number[]} dims @param {number} [seed] */
function floats(name, dims, seed = 1) {
  const n = dims.reduce((a, b) => a * b, 1);
  const r = seeded(seed);
  const data = Float32Array.from({ length: n }, () => r() - 0.5);
  return create(TensorProtoSchema, { name, dataType: FLOAT, dims: dims.map(BigInt), rawData: new Uint8Array(data.buffer) });
}

/** @param {string} name @param {number[]} values */
function int64s(name, values) {
  return create(TensorProtoSchema, { name, dataType: INT64, dims: [BigInt(values.length)], rawData: new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer) });
}

/**
 * @param {string} op @param {string[]} inputs @param {string[]} outputs @param {string} name
 * @param {Record<string, number | number[] | import("onnx-buf").GraphProto | import("onnx-buf").TensorProto>} [attrs]
 */
function node(op, inputs, outputs, name, attrs = {}) {
  const attribute = Object.entries(attrs).map(([k, v]) =>
    typeof v === "number"
      ? create(AttributeProtoSchema, { name: k, type: AT_INT, i: BigInt(v) })
      : Array.isArray(v)
        ? create(AttributeProtoSchema, { name: k, type: AT_INTS, ints: v.map(BigInt) })
        : "node" in v
          ? create(AttributeProtoSchema, { name: k, type: AT_GRAPH, g: v })
          : create(AttributeProtoSchema, { name: k, type: AT_TENSOR, t: v }),
  );
  return create(NodeProtoSchema, { opType: op, input: inputs, output: outputs, name, attribute });
}

/** @param {import("onnx-buf").GraphProto} graph @param {number} [opset] */
function model(graph, opset = 13) {
  return create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: "slimserve-fuzz",
    graph,
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: "", version: BigInt(opset) })],
  });
}

/** The seeds: small valid models that cover the shapes of graph a mutation should reach. */
export function modelSeeds() {
  const mlp = create(GraphProtoSchema, {
    name: "mlp",
    node: [
      node("MatMul", ["x", "w1"], ["h"], "fc1"),
      node("Add", ["h", "b1"], ["hb"], "bias1"),
      node("Relu", ["hb"], ["a"], "relu"),
      node("MatMul", ["a", "w2"], ["z"], "fc2"),
      node("Softmax", ["z"], ["y"], "softmax", { axis: -1 }),
    ],
    input: [valueInfo("x", ["N", 8])],
    output: [valueInfo("y", ["N", 4])],
    initializer: [floats("w1", [8, 16], 1), floats("b1", [16], 2), floats("w2", [16, 4], 3)],
  });
  const cnn = create(GraphProtoSchema, {
    name: "cnn",
    node: [
      node("Conv", ["x", "k", "kb"], ["c"], "conv", { strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], kernel_shape: [3, 3] }),
      node("MaxPool", ["c"], ["p"], "pool", { kernel_shape: [2, 2], strides: [2, 2] }),
      node("Transpose", ["p"], ["t"], "transpose", { perm: [0, 1, 3, 2] }),
      node("Flatten", ["t"], ["f"], "flatten", { axis: 1 }),
      node("MatMul", ["f", "fw"], ["y"], "head"),
    ],
    input: [valueInfo("x", [1, 1, 8, 8])],
    output: [valueInfo("y", [1, 3])],
    initializer: [floats("k", [4, 1, 3, 3], 4), floats("kb", [4], 5), floats("fw", [64, 3], 6)],
  });
  const branch = (/** @type {string} */ name, /** @type {string} */ op) =>
    create(GraphProtoSchema, { name, node: [node(op, ["x"], [`${name}_y`], `${name}_op`)], output: [valueInfo(`${name}_y`, ["N", 4])] });
  const cond = create(GraphProtoSchema, {
    name: "cond",
    node: [
      node("ReduceSum", ["x"], ["s"], "sum", { keepdims: 0 }),
      node("Greater", ["s", "zero"], ["c"], "positive"),
      node("If", ["c"], ["y"], "if", { then_branch: branch("then", "Relu"), else_branch: branch("else", "Neg") }),
    ],
    input: [valueInfo("x", ["N", 4])],
    output: [valueInfo("y", ["N", 4])],
    initializer: [floats("zero", [], 7)],
  });
  const sparse = create(GraphProtoSchema, {
    name: "sparse",
    node: [node("MatMul", ["x", "w"], ["y"], "fc")],
    input: [valueInfo("x", ["N", 4])],
    output: [valueInfo("y", ["N", 4])],
    sparseInitializer: [create(SparseTensorProtoSchema, { dims: [4n, 4n], values: floats("w", [3], 8), indices: int64s("w_idx", [0, 5, 15]) })],
  });
  const broadcast = create(GraphProtoSchema, {
    name: "broadcast",
    node: [node("Add", ["a", "b"], ["y"], "widen")],
    input: [valueInfo("a", [1, "N"]), valueInfo("b", ["N", 1])],
    output: [valueInfo("y", ["N", "N"])],
  });
  return [model(mlp), model(cnn), model(cond), model(sparse), model(broadcast)];
}

/** @typedef {import("onnx-buf").ModelProto} ModelProto */
/** @typedef {import("onnx-buf").TensorProto} TensorProto */
/** @typedef {import("onnx-buf").GraphProto} GraphProto */

/** Every graph of a model, subgraphs included. @param {GraphProto} g @param {GraphProto[]} [out] */
function graphsOf(g, out = []) {
  out.push(g);
  for (const n of g.node) for (const a of n.attribute) {
    if (a.g) graphsOf(a.g, out);
    for (const sg of a.graphs) graphsOf(sg, out);
  }
  return out;
}

/** Every tensor a model holds: initializers, sparse values and indices, attribute tensors. @param {ModelProto} m */
function tensorsOf(m) {
  /** @type {TensorProto[]} */
  const ts = [];
  for (const g of graphsOf(/** @type {GraphProto} */ (m.graph))) {
    ts.push(...g.initializer);
    for (const s of g.sparseInitializer) {
      if (s.values) ts.push(s.values);
      if (s.indices) ts.push(s.indices);
    }
    for (const n of g.node) for (const a of n.attribute) if (a.t) ts.push(a.t);
  }
  return ts;
}

/** Whether graphSize may build graphs past the node cap (the campaign does; the unit suite keeps to small ones). */
let largeGraphs = true;

/** @type {Record<string, (m: ModelProto, r: Rand) => void>} */
const MODEL_MUTATIONS = {
  dims(m, r) {
    const ts = tensorsOf(m);
    if (!ts.length) return;
    const t = pick(r, ts);
    const choice = int(r, 4);
    if (choice === 0 && t.dims.length) t.dims[int(r, t.dims.length)] = BigInt(pick(r, NASTY));
    else if (choice === 1) t.dims.push(BigInt(pick(r, NASTY)));
    else if (choice === 2) t.dims = t.dims.slice(1);
    // Wrapped to int64, as a dims field holds (mutations repeat: 2^53 x 100000 x 100000 is past it).
    else t.dims = t.dims.map((d) => BigInt.asIntN(64, d * BigInt(pick(r, [2, 1000, 100000]))));
  },
  dataLocation(m, r) {
    const ts = tensorsOf(m);
    if (ts.length) pick(r, ts).dataLocation = 1;
  },
  rawSize(m, r) {
    const ts = tensorsOf(m);
    if (!ts.length) return;
    const t = pick(r, ts);
    const choice = int(r, 3);
    if (choice === 0) t.rawData = new Uint8Array(0);
    else if (choice === 1) t.rawData = t.rawData.subarray(0, int(r, t.rawData.byteLength + 1));
    else t.rawData = new Uint8Array(t.rawData.byteLength + 1 + int(r, 64));
  },
  dataType(m, r) {
    const ts = tensorsOf(m);
    if (ts.length) pick(r, ts).dataType = pick(r, [0, 1, 2, 3, 6, 7, 8, 10, 11, 16, 21, 22, 25, 99]);
  },
  typedData(m, r) {
    const ts = tensorsOf(m);
    if (!ts.length) return;
    const t = pick(r, ts);
    t.rawData = new Uint8Array(0);
    t.floatData = Array.from({ length: int(r, 40) }, () => r());
    t.int64Data = r() < 0.3 ? Array.from({ length: int(r, 10) }, () => BigInt(int(r, 100) - 50)) : [];
  },
  sparse(m, r) {
    const g = /** @type {GraphProto} */ (m.graph);
    const s = g.sparseInitializer[0] ?? create(SparseTensorProtoSchema, { dims: [4n, 4n], values: floats(g.initializer[0]?.name ?? "w", [2], 9), indices: int64s("i", [0, 1]) });
    if (!g.sparseInitializer.length) {
      g.initializer = g.initializer.slice(1);
      g.sparseInitializer.push(s);
    }
    const choice = int(r, 5);
    if (choice === 0) s.dims = [BigInt(pick(r, NASTY)), BigInt(pick(r, NASTY))];
    // As many indices as the values declare (an earlier mutation may have made that 2^40: at most 64 are written).
    else if (choice === 1) s.indices = int64s("i", Array.from({ length: Math.min(64, Math.max(0, Number(s.values?.dims[0] ?? 2))) }, () => pick(r, NASTY)));
    else if (choice === 2 && s.indices) s.indices.dims = [BigInt(pick(r, NASTY))];
    else if (choice === 3) s.indices = undefined;
    else if (s.values) s.values.dims = [BigInt(pick(r, NASTY)), 1n];
  },
  attributes(m, r) {
    const nodes = graphsOf(/** @type {GraphProto} */ (m.graph)).flatMap((g) => g.node);
    const n = pick(r, nodes);
    const name = pick(r, ["strides", "pads", "dilations", "kernel_shape", "perm", "axis", "axes", "group", "keepdims"]);
    const len = pick(r, [0, 1, 2, 3, 4, 5]);
    const values = Array.from({ length: len }, () => pick(r, NASTY.slice(0, 9)));
    n.attribute = n.attribute.filter((a) => a.name !== name);
    n.attribute.push(
      name === "axis" || name === "group" || name === "keepdims"
        ? create(AttributeProtoSchema, { name, type: AT_INT, i: BigInt(pick(r, NASTY)) })
        : create(AttributeProtoSchema, { name, type: AT_INTS, ints: values.map(BigInt) }),
    );
  },
  rewire(m, r) {
    const g = /** @type {GraphProto} */ (m.graph);
    const n = pick(r, g.node);
    const names = [...g.node.flatMap((x) => x.output), ...g.input.map((v) => v.name), "ghost", ""];
    if (n.input.length) n.input[int(r, n.input.length)] = pick(r, names);
    else n.output[0] = pick(r, names);
  },
  subgraphs(m, r) {
    // Nest the graph's body in If branches, a few or many levels deep.
    const g = /** @type {GraphProto} */ (m.graph);
    const leaf = () => create(GraphProtoSchema, { name: "leaf", node: [node("Identity", [g.input[0]?.name ?? "x"], ["leaf_y"], "leaf_id")], output: [valueInfo("leaf_y", ["N"])] });
    let body = leaf();
    const depth = pick(r, [1, 3, 15, 17, 40]);
    // One branch nests, the other is a leaf: nesting both would double the bytes per level.
    for (let d = 0; d < depth; d++) {
      body = create(GraphProtoSchema, { name: `level${d}`, node: [node("If", ["c"], [`o${d}`], `if${d}`, { then_branch: body, else_branch: leaf() })], output: [valueInfo(`o${d}`, ["N"])] });
    }
    g.node.unshift(node("Identity", [g.input[0]?.name ?? "x"], ["c"], "cond"), ...body.node);
  },
  graphSize(m, r) {
    // A long chain of cheap nodes: below the node cap, or just above it.
    const g = /** @type {GraphProto} */ (m.graph);
    const count = pick(r, largeGraphs ? [100, 5000, 50001] : [100, 2000]);
    const first = g.input[0]?.name ?? "x";
    const chain = Array.from({ length: count }, (_, i) => node("Relu", [i === 0 ? first : `chain${i - 1}`], [`chain${i}`], ""));
    g.node.push(...chain);
  },
  opset(m, r) {
    const o = m.opsetImport[0];
    if (o) o.version = BigInt(pick(r, [-1, 0, 1, 7, 13, 25, 10000]));
  },
  domain(m, r) {
    const g = /** @type {GraphProto} */ (m.graph);
    pick(r, g.node).domain = pick(r, ["com.microsoft", "ai.onnx.ml", "x"]);
  },
};

/** Byte-level damage to an encoded model: flips, truncation, splices. @param {Uint8Array} bytes @param {Rand} r */
function damageBytes(bytes, r) {
  const out = new Uint8Array(bytes);
  const choice = int(r, 3);
  if (choice === 0) for (let i = 0; i < 1 + int(r, 8); i++) out[int(r, out.length)] = int(r, 256);
  if (choice === 1) return out.subarray(0, int(r, out.length));
  if (choice === 2) {
    const at = int(r, out.length);
    return Uint8Array.from([...out.subarray(0, at), ...Array.from({ length: 1 + int(r, 16) }, () => pick(r, [0x08, 0x0a, 0x12, 0x3a, 0xff, 0x80, 0x01]))]);
  }
  return out;
}

/**
 * One mutated model's bytes: a seed with one to three structural mutations, sometimes byte-level damage after.
 * @param {Rand} r @param {ModelProto[]} [seeds] @param {{ large?: boolean }} [options] large: graphs past the node cap too
 * @returns {{ kind: string, bytes: Uint8Array }}
 */
export function mutatedModel(r, seeds = modelSeeds(), options = {}) {
  largeGraphs = options.large ?? true;
  const m = clone(ModelProtoSchema, pick(r, seeds));
  const kinds = [];
  for (let i = 0; i < 1 + int(r, 3); i++) {
    const kind = pick(r, Object.keys(MODEL_MUTATIONS));
    /** @type {(m: ModelProto, r: Rand) => void} */ (MODEL_MUTATIONS[kind])(m, r);
    kinds.push(kind);
  }
  let bytes = toBinary(ModelProtoSchema, m);
  if (r() < 0.15) {
    bytes = damageBytes(bytes, r);
    kinds.push("bytes");
  }
  return { kind: kinds.join("+"), bytes };
}

/** @param {Uint8Array} zip @param {number} at @param {number} value @param {number} width */
function poke(zip, at, value, width) {
  if (at < 0 || at + width > zip.byteLength) return;
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  if (width === 2) v.setUint16(at, value & 0xffff, true);
  else v.setUint32(at, value >>> 0, true);
}

/**
 * One mutated dataset upload (.npz stored or deflated, or a bare .npy): headers, shapes, dtypes, zip sizes and offsets.
 * @param {Rand} r @returns {Promise<{ kind: string, bytes: Uint8Array }>}
 */
export async function mutatedDataset(r) {
  const n = 1 + int(r, 32);
  const x = encodeNpy({ dtype: "float32", shape: [n, 4], data: Float32Array.from({ length: n * 4 }, () => r()) });
  const labels = encodeNpy({ dtype: "int64", shape: [n], data: BigInt64Array.from({ length: n }, () => BigInt(int(r, 10))) });
  const choice = int(r, 7);
  if (choice === 0) {
    // A .npy whose header lies about its shape or type.
    const shape = [pick(r, NASTY), ...(r() < 0.5 ? [pick(r, NASTY)] : [])];
    const descr = pick(r, ["<f4", "<f8", "<i8", "|u1", ">f4", "<c8", "O", "<U3"]);
    return { kind: "npy-header", bytes: writeNpy({ descr, shape, fortranOrder: r() < 0.2 }, new Float32Array(int(r, 64))) };
  }
  const deflate = r() < 0.5;
  const zip = deflate ? await encodeNpzDeflated({ "x.npy": x, "labels.npy": labels }, { zip64: r() < 0.5 }) : encodeNpz({ "x.npy": x, "labels.npy": labels }, { zip64: r() < 0.5 });
  const out = new Uint8Array(zip);
  const eocd = out.byteLength - 22;
  const dv = new DataView(out.buffer);
  const central = dv.getUint32(eocd + 16, true);
  if (choice === 1) {
    // Central directory sizes: compressed and uncompressed, to nasty values.
    poke(out, central + 20 + 4 * int(r, 2), pick(r, NASTY), 4);
    return { kind: "zip-sizes", bytes: out };
  }
  if (choice === 2) {
    // Local header offset of an entry: onto the other entry or past the end.
    poke(out, central + 42, pick(r, [0, 30, 1, out.byteLength, 2 ** 31]), 4);
    return { kind: "zip-offset", bytes: out };
  }
  if (choice === 3) {
    // Entry counts and the central directory's place.
    poke(out, eocd + 8 + 2 * int(r, 2), pick(r, [0, 1, 3, 65535]), 2);
    if (r() < 0.5) poke(out, eocd + 16, pick(r, [0, central - 1, out.byteLength]), 4);
    return { kind: "zip-directory", bytes: out };
  }
  if (choice === 4) return { kind: "truncated", bytes: out.subarray(0, int(r, out.byteLength)) };
  if (choice === 5) {
    for (let i = 0; i < 1 + int(r, 12); i++) out[int(r, out.byteLength)] = int(r, 256);
    return { kind: "flipped", bytes: out };
  }
  // Method and name fields of the first central entry.
  poke(out, central + 10, pick(r, [0, 8, 9, 12, 99]), 2);
  poke(out, central + 28, pick(r, [0, 1, 5, 400, 65535]), 2);
  return { kind: "zip-fields", bytes: out };
}

/** A JSON value that a schema must refuse or a checker must bound. @param {Rand} r @returns {unknown} */
function nastyValue(r) {
  return pick(r, [null, true, "x", "NaN", "Infinity", -0, 1e308, -1e308, 2 ** 53, [], {}, [[1]], { type: "float32" }, "\u0000", 1.5]);
}

/**
 * One malformed inference body for a model with input `name` of dims `dims` (text: not always valid JSON).
 * @param {Rand} r @param {string} name @param {number[]} dims @returns {{ kind: string, body: string, contentType: string }}
 */
export function mutatedInferBody(r, name, dims) {
  const n = dims.reduce((a, b) => a * b, 1);
  const good = { inputs: { [name]: { type: "float32", dims, data: Array.from({ length: n }, () => r()) } } };
  const choice = int(r, 9);
  /** @type {any} */
  const body = structuredClone(good);
  const t = body.inputs[name];
  let kind = "valid";
  if (choice === 0) {
    t.dims = dims.map((d) => (r() < 0.5 ? pick(r, NASTY) : d));
    kind = "dims";
  } else if (choice === 1) {
    t.data = t.data.slice(0, int(r, t.data.length));
    kind = "short-data";
  } else if (choice === 2) {
    t.data[int(r, t.data.length)] = nastyValue(r);
    kind = "bad-value";
  } else if (choice === 3) {
    t.type = pick(r, ["float64", "int64", "bool", "string", "", "float32 ", 7]);
    kind = "type";
  } else if (choice === 4) {
    body.inputs = pick(r, [{}, null, [], { other: t }, { [name]: t, extra: t }]);
    kind = "inputs";
  } else if (choice === 5) {
    body[pick(r, ["outputs", "__proto__", "constructor"])] = nastyValue(r);
    kind = "extra-field";
  } else if (choice === 6) {
    // Broadcast bombs: a large batch along a symbolic dim.
    t.dims = dims.map((d, i) => (i === 0 ? pick(r, [64, 4096, 100000]) : d));
    kind = "large-dims";
  } else if (choice === 7) {
    return { kind: "not-json", body: JSON.stringify(good).slice(0, int(r, 40)) + pick(r, ["", "}", "\u0000", "]]]"]), contentType: "application/json" };
  }
  const contentType = choice === 8 ? pick(r, ["Application/JSON", "application/x+json", "text/plain", "application/json; charset=utf-8"]) : "application/json";
  return { kind: choice === 8 ? "media-type" : kind, body: JSON.stringify(body), contentType };
}

/** One malformed recipe (a variant request). @param {Rand} r @returns {{ kind: string, body: string }} */
export function mutatedRecipe(r) {
  const recipes = [
    { quantize: { bits: 8 } },
    { quantize: { bits: 4, granularity: "per-channel" } },
    { prune: { sparsity: 0.5 } },
    { quantize: { bits: 8, mode: "dynamic" } },
  ];
  /** @type {any} */
  const recipe = structuredClone(pick(r, recipes));
  const choice = int(r, 6);
  const key = /** @type {string} */ (Object.keys(recipe)[0]);
  if (choice === 0) recipe[key][pick(r, ["bits", "sparsity", "granularity", "mode", "layers", "blockSize"])] = nastyValue(r);
  else if (choice === 1) recipe[pick(r, ["quantize", "prune", "eval", "target", "objective", "dataset"])] = nastyValue(r);
  else if (choice === 2) recipe[key] = nastyValue(r);
  else if (choice === 3) return { kind: "not-json", body: JSON.stringify(recipe).slice(0, int(r, 30)) };
  else if (choice === 4) recipe[key].layers = Array.from({ length: int(r, 5) }, () => nastyValue(r));
  return { kind: `recipe-${choice}`, body: JSON.stringify(recipe) };
}
