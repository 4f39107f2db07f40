// ONNX external data (weights saved beside the model, as `onnx.save(..., save_as_external_data=True)` and exporters of
// models over 2 GB write them): each tensor that names a file is checked against the files uploaded with the model,
// its range made explicit, so that the model can be written whole (./segments.ts) without reading a weight.
import type { AttributeProto, GraphProto, ModelProto, SparseTensorProto, TensorProto } from "onnx-buf";
import { OnnxValidationError } from "./backing";
import { dtypeName, rawByteLength } from "./dtype";
import { makeExternal } from "./segments";
import { SKELETON_LOCATION } from "./skeleton";

/**
 * A location as the model names it, normalised: ONNX locations are paths relative to the model's directory, written
 * with `/` or `\`; a leading `./` names the same file. Paths that leave the directory (`..`), are absolute, or hold
 * control characters (a NUL ends a path in C, so a runtime would read another file than the one named) name no file
 * an upload can carry: null.
 */
export function normalizeLocation(location: string): string | null {
  if (/[\u0000-\u001f\u007f]/.test(location)) return null;
  const parts = location.replace(/\\/g, "/").split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0 || parts.includes("..") || /^[/\\]|^[A-Za-z]:/.test(location)) return null;
  return parts.join("/");
}

/** Every dense tensor a model holds (initializers, attribute tensors, sparse values and indices; subgraphs and functions too). */
export function* modelTensors(model: ModelProto): Generator<{ tensor: TensorProto; what: string }> {
  function* sparse(s: SparseTensorProto, what: string): Generator<{ tensor: TensorProto; what: string }> {
    if (s.values) yield { tensor: s.values, what: `${what} values` };
    if (s.indices) yield { tensor: s.indices, what: `${what} indices` };
  }
  function* attribute(a: AttributeProto, label: string): Generator<{ tensor: TensorProto; what: string }> {
    const what = `attribute '${a.name}' of node '${label}'`;
    if (a.t) yield { tensor: a.t, what };
    for (const t of a.tensors) yield { tensor: t, what };
    if (a.sparseTensor) yield* sparse(a.sparseTensor, what);
    for (const s of a.sparseTensors) yield* sparse(s, what);
    if (a.g) yield* graph(a.g);
    for (const g of a.graphs) yield* graph(g);
  }
  function* graph(g: GraphProto): Generator<{ tensor: TensorProto; what: string }> {
    for (const t of g.initializer) yield { tensor: t, what: `initializer '${t.name}'` };
    for (const s of g.sparseInitializer) yield* sparse(s, `sparse initializer '${s.values?.name ?? ""}'`);
    for (const n of g.node) for (const a of n.attribute) yield* attribute(a, n.name || n.opType);
  }
  if (model.graph) yield* graph(model.graph);
  for (const f of model.functions) for (const n of f.node) for (const a of n.attribute) yield* attribute(a, n.name || n.opType);
}

/** A tensor's external-data entries, by key (the last of a key wins, as onnx's loader reads them). */
function entries(t: TensorProto): Map<string, string> {
  return new Map(t.externalData.map((e) => [e.key, e.value]));
}

/** An integer entry (offset, length): absent is undefined, anything but a non-negative decimal integer is an error. */
function integerEntry(value: string | undefined, key: string, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new OnnxValidationError(`${what} has external data ${key} '${value}', not a byte count`);
  return n;
}

/**
 * Checks every tensor of a model's skeleton (./skeleton.ts) that keeps its bytes in an uploaded file (`files`: size
 * by normalised location) and rewrites its external data to an explicit range (location normalised, offset and
 * length set, checksum dropped), in place. Tensors left in the model's own object by the skeleton reader are as
 * they were. Throws OnnxValidationError naming the tensor for a file not uploaded, a range past its end, a length
 * other than its dims', or bytes another tensor reads too; and naming the file for one that no tensor reads.
 */
export function resolveExternalData(model: ModelProto, files: ReadonlyMap<string, number>): void {
  // Each file's ranges, to refuse two tensors reading the same bytes: no exporter writes that, and a small file read
  // many times over would make a model far larger than what was uploaded.
  const ranges = new Map<string, { offset: number; length: number; what: string }[]>();
  for (const { tensor: t, what } of modelTensors(model)) {
    if (t.dataLocation !== 1 && t.externalData.length === 0) continue;
    const e = entries(t);
    const named = e.get("location");
    // The skeleton's own: a model's tensor cannot name that location (../onnx/skeleton.ts refuses it), nor a file take it.
    if (named === SKELETON_LOCATION) continue;
    if (named === undefined) throw new OnnxValidationError(`${what} keeps its data outside the model and names no location`);
    const location = normalizeLocation(named);
    if (location === null) throw new OnnxValidationError(`${what} names external data ${JSON.stringify(named)}, not a path inside the model's directory`);
    const size = files.get(location);
    if (size === undefined) {
      const uploaded = [...files.keys()].map((l) => `'${l}'`).join(", ") || "none";
      throw new OnnxValidationError(`${what} keeps its data in '${location}', which was not uploaded with the model (uploaded: ${uploaded})`);
    }
    const count = t.dims.reduce((n, d) => n * Number(d), 1);
    const expected = rawByteLength(t.dataType, count);
    if (expected === undefined || t.dims.some((d) => d < 0n) || !Number.isSafeInteger(count)) {
      throw new OnnxValidationError(`${what} of element type ${dtypeName(t.dataType)} and dims [${t.dims.join(", ")}] cannot be read from external data`);
    }
    const offset = integerEntry(e.get("offset"), "offset", what) ?? 0;
    // onnx's loader reads to the end of the file when no length is given.
    const length = integerEntry(e.get("length"), "length", what) ?? size - offset;
    if (offset > size || offset + length > size) throw new OnnxValidationError(`${what} reads bytes ${offset} to ${offset + length} of '${location}', which holds ${size}`);
    if (length !== expected) {
      throw new OnnxValidationError(`${what} has ${length} bytes in '${location}', expected ${expected} for dims [${t.dims.join(", ")}]`);
    }
    makeExternal(t, { location, offset, length });
    let list = ranges.get(location);
    if (!list) ranges.set(location, (list = []));
    if (length > 0) list.push({ offset, length, what });
  }
  for (const [location, list] of ranges) {
    list.sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < list.length; i++) {
      const [a, b] = [list[i - 1]!, list[i]!];
      if (b.offset < a.offset + a.length) throw new OnnxValidationError(`${a.what} and ${b.what} read the same bytes of '${location}' (from ${b.offset})`);
    }
  }
  for (const location of files.keys()) {
    if (!ranges.has(location)) throw new OnnxValidationError(`external data '${location}' was uploaded with the model, but no tensor reads it`);
  }
}
