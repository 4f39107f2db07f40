// Models saved with ONNX external data (worker/onnx/external-data.ts): the small zoo saved by onnx's own Python writer
// (`onnx.save_model(..., save_as_external_data=True)`: one file for all tensors, one file per tensor, Constant values
// too), resolved against the files and written whole, is the model as exported, byte for byte, and it computes in
// onnxruntime-node what onnxruntime-node computes loading the external data itself. A file not uploaded, a range
// past a file's end, a length other than the dims', bytes two tensors read, a path out of the model's directory and a
// file no tensor reads are errors that name the tensor or the file.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import type { ModelProto } from "onnx-buf";
import { decodeModel, encodeModel, OnnxDecodeError } from "@worker/onnx/codec";
import { modelTensors, normalizeLocation, resolveExternalData } from "@worker/onnx/external-data";
import { segmentModel, writeSegments } from "@worker/onnx/segments";
import { bytesSource, readSkeleton, SKELETON_LOCATION } from "@worker/onnx/skeleton";
import { PYTHON } from "@test/support/python";
import { zooModels, type ZooModel } from "@test/support/zoo";

/** How onnx's writer is asked to save each model: all tensors in one file, or one file per tensor. */
const SAVE = String.raw`
import sys, onnx
src, out, one_file = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
m = onnx.load(src)
onnx.save_model(m, out, save_as_external_data=True, all_tensors_to_one_file=one_file,
                location="weights.bin" if one_file else None, size_threshold=64, convert_attribute=True)
`;

interface Saved {
  model: ZooModel;
  dir: string;
  graph: Uint8Array;
  /** The files beside it, by name, with their bytes. */
  files: Map<string, Uint8Array>;
}

function saveExternal(model: ZooModel, oneFile: boolean): Saved {
  const dir = mkdtempSync(join(tmpdir(), "external-data-"));
  writeFileSync(join(dir, "src.onnx"), model.bytes);
  execFileSync(PYTHON, ["-c", SAVE, join(dir, "src.onnx"), join(dir, "model.onnx"), oneFile ? "1" : "0"]);
  const files = new Map<string, Uint8Array>();
  for (const name of readdirSync(dir)) {
    if (name.endsWith(".onnx") || !statSync(join(dir, name)).isFile()) continue;
    files.set(name, readFileSync(join(dir, name)));
  }
  return { model, dir, graph: readFileSync(join(dir, "model.onnx")), files };
}

async function skeletonOf(graph: Uint8Array): Promise<ModelProto> {
  return decodeModel((await readSkeleton(bytesSource(graph))).bytes);
}

/** The model written whole from its graph and files. */
async function joined(saved: Pick<Saved, "graph" | "files">): Promise<Buffer> {
  const skeleton = await skeletonOf(saved.graph);
  resolveExternalData(skeleton, new Map([...saved.files].map(([name, bytes]) => [name, bytes.byteLength])));
  const chunks: Uint8Array[] = [];
  await writeSegments(
    segmentModel(skeleton),
    (location) => {
      const bytes = location === SKELETON_LOCATION ? saved.graph : saved.files.get(location);
      return bytes ? bytesSource(bytes) : undefined;
    },
    async (b) => {
      chunks.push(b.slice());
    },
  );
  return Buffer.concat(chunks);
}

async function outputs(session: ort.InferenceSession, model: ZooModel): Promise<Float32Array[]> {
  const result = await session.run(model.inputs(7));
  return session.outputNames.map((n) => result[n]!.data as Float32Array);
}

describe("a zoo model saved with external data by onnx's writer", () => {
  let zoo: ZooModel[];
  beforeAll(async () => {
    zoo = await zooModels();
  }, 600_000);

  it("is written whole as the model exported, byte for byte, from one file or one file per tensor", async () => {
    expect(zoo.length).toBeGreaterThanOrEqual(8);
    let perTensorFiles = 0;
    for (const model of zoo) {
      for (const oneFile of [true, false]) {
        const saved = saveExternal(model, oneFile);
        expect(saved.files.size, model.name).toBeGreaterThan(0);
        expect(saved.graph.byteLength, model.name).toBeLessThan(model.bytes.byteLength);
        if (!oneFile) perTensorFiles += saved.files.size;
        const out = await joined(saved);
        expect(out.equals(Buffer.from(model.bytes)), `${model.name} (${oneFile ? "one file" : "a file per tensor"})`).toBe(true);
      }
    }
    expect(perTensorFiles).toBeGreaterThan(zoo.length * 2);
  }, 600_000);

  it("computes what onnxruntime-node computes loading the external data from disk", async () => {
    for (const model of zoo.slice(0, 4)) {
      const saved = saveExternal(model, true);
      const reference = await ort.InferenceSession.create(join(saved.dir, "model.onnx"));
      const ours = await ort.InferenceSession.create(await joined(saved));
      const [a, b] = [await outputs(reference, model), await outputs(ours, model)];
      expect(b.length, model.name).toBe(a.length);
      for (let i = 0; i < a.length; i++) expect(Array.from(b[i]!), model.name).toEqual(Array.from(a[i]!));
    }
  }, 120_000);

  it("keeps the Constant values onnx's writer moved out (convert_attribute)", async () => {
    const constants = zoo.find((m) => m.name.includes("constant"));
    expect(constants, "the zoo has a model whose weights are Constant nodes").toBeDefined();
    const saved = saveExternal(constants!, true);
    const skeleton = await skeletonOf(saved.graph);
    const external = [...modelTensors(skeleton)].filter(({ tensor }) => tensor.dataLocation === 1 && tensor.externalData.some((e) => e.value === "weights.bin"));
    expect(external.some(({ what }) => what.startsWith("attribute"))).toBe(true);
    expect((await joined(saved)).equals(Buffer.from(constants!.bytes))).toBe(true);
  });
});

describe("external data that does not match the model", () => {
  let saved: Saved;
  beforeAll(async () => {
    saved = saveExternal((await zooModels())[0]!, true);
  }, 600_000);

  const resolve = async (files: Map<string, number>, edit?: (m: ModelProto) => void) => {
    const skeleton = await skeletonOf(saved.graph);
    edit?.(skeleton);
    return () => resolveExternalData(skeleton, files);
  };
  const size = () => saved.files.get("weights.bin")!.byteLength;
  const firstExternal = (m: ModelProto) => [...modelTensors(m)].find(({ tensor }) => tensor.dataLocation === 1 && tensor.externalData.length > 0)!.tensor;
  const setEntry = (m: ModelProto, key: string, value: string) => {
    const t = firstExternal(m);
    const e = t.externalData.find((x) => x.key === key);
    if (e) e.value = value;
    else t.externalData.push({ $typeName: "onnx.StringStringEntryProto", key, value });
    return t.name;
  };

  it("names the file a tensor reads when it was not uploaded", async () => {
    await expect(resolve(new Map())).resolves.toThrow(/keeps its data in 'weights\.bin', which was not uploaded with the model \(uploaded: none\)/);
    await expect(resolve(new Map([["other.bin", 10]]))).resolves.toThrow(/'weights\.bin', which was not uploaded.*'other\.bin'/);
  });

  it("refuses a range past the file's end, and a length other than the dims'", async () => {
    await expect(resolve(new Map([["weights.bin", size() - 1]]))).resolves.toThrow(/reads bytes \d+ to \d+ of 'weights\.bin', which holds/);
    let name = "";
    const wrong = await resolve(new Map([["weights.bin", size()]]), (m) => {
      name = setEntry(m, "length", "4");
    });
    expect(wrong).toThrow(new RegExp(`initializer '${name}' has 4 bytes in 'weights\\.bin', expected \\d+`));
    const offset = await resolve(new Map([["weights.bin", size()]]), (m) => setEntry(m, "offset", "-1"));
    expect(offset).toThrow(/external data offset '-1', not a byte count/);
  });

  it("refuses two tensors that read the same bytes (a small file read over and over)", async () => {
    const skeleton = await skeletonOf(saved.graph);
    const external = [...modelTensors(skeleton)].filter(({ tensor }) => tensor.dataLocation === 1).map(({ tensor }) => tensor);
    const [a, b] = external.filter((t) => t.dims.length === 1);
    expect(b, "two bias tensors").toBeDefined();
    const entry = (t: typeof a, key: string) => t!.externalData.find((e) => e.key === key)!;
    // The second bias reads the first one's bytes, its dims cut to the same length.
    b!.dims = [...a!.dims];
    entry(b, "offset").value = entry(a, "offset").value;
    entry(b, "length").value = entry(a, "length").value;
    expect(() => resolveExternalData(skeleton, new Map([["weights.bin", size()]]))).toThrow(new RegExp(`initializer '.+' and initializer '.+' read the same bytes of 'weights\\.bin'`));
  });

  it("reads to the file's end when no length is given, as onnx's loader does", async () => {
    const skeleton = await skeletonOf(saved.graph);
    const t = firstExternal(skeleton);
    const offset = Number(t.externalData.find((e) => e.key === "offset")?.value ?? 0);
    const length = Number(t.externalData.find((e) => e.key === "length")!.value);
    t.externalData = t.externalData.filter((e) => e.key !== "length");
    // The file ends where this tensor does: its length is the rest of the file.
    expect(() => resolveExternalData(skeleton, new Map([["weights.bin", offset + length]]))).toThrow(/reads bytes/);
    const alone = await skeletonOf(saved.graph);
    const u = firstExternal(alone);
    u.externalData = u.externalData.filter((e) => e.key !== "length");
    const others = [...modelTensors(alone)].filter(({ tensor }) => tensor !== u && tensor.dataLocation === 1);
    for (const { tensor } of others) for (const e of tensor.externalData) if (e.key === "location") e.value = "rest.bin";
    const files = new Map([["weights.bin", offset + length], ["rest.bin", size()]]);
    resolveExternalData(alone, files);
    expect(u.externalData.find((e) => e.key === "length")?.value).toBe(String(length));
  });

  it("refuses a file no tensor reads, and a path out of the model's directory", async () => {
    await expect(resolve(new Map([["weights.bin", size()], ["spare.bin", 8]]))).resolves.toThrow(/'spare\.bin' was uploaded with the model, but no tensor reads it/);
    const outside = await resolve(new Map([["weights.bin", size()]]), (m) => setEntry(m, "location", "../weights.bin"));
    expect(outside).toThrow(/names external data "\.\.\/weights\.bin", not a path inside the model's directory/);
    expect(normalizeLocation("./sub\\w.bin")).toBe("sub/w.bin");
    expect(normalizeLocation("/etc/passwd")).toBeNull();
    expect(normalizeLocation("C:/w.bin")).toBeNull();
    // A NUL would end the path early where a C runtime opens it; other control characters name no saved file.
    expect(normalizeLocation("w.bin\u0000.txt")).toBeNull();
    expect(normalizeLocation("w\n.bin")).toBeNull();
    const nul = await resolve(new Map([["weights.bin", size()]]), (m) => setEntry(m, "location", "weights.bin\u0000x"));
    expect(nul).toThrow(/names external data "weights\.bin\\u0000x", not a path inside/);
  });

  it("refuses a tensor that names the model's own file, before anything else is read", async () => {
    const skeleton = await skeletonOf(saved.graph);
    setEntry(skeleton, "location", SKELETON_LOCATION);
    await expect(readSkeleton(bytesSource(encodeModel(skeleton)))).rejects.toThrow(OnnxDecodeError);
    await expect(readSkeleton(bytesSource(encodeModel(skeleton)))).rejects.toThrow(/names external data 'model\.onnx', the model's own file/);
  });
});
