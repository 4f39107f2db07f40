// The CLI against the durable jobs on `wrangler dev`: datasets packed from .npy files, a static int8 variant with
// evaluation followed to the end with its progress bar, `jobs --watch`, `evaluate`, `search` and prune + int8. The
// evaluation numbers the server reports (onnxruntime-web in workerd) are checked against onnxruntime-node running
// the downloaded variant bytes on the same samples.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { SlimserveClient, type Dataset, type EvalReport, type SearchResult, type Variant } from "@client/slimserve.js";
import { encodeNpy } from "@formats/npy.js";
import { buildMlp } from "@test/support/models";
import { labelledSet, scoreOn, type Labelled } from "./labelled";
import { cliIn, type Run } from "./run-cli";
import { E2E_TOKENS } from "./tokens";

const baseUrl = inject("baseUrl");
const SIZES = [64, 128, 10];
const CLASSES = 10;
/** onnxruntime-web and -node may break a near-tie between two logits differently: allow one sample either way. */
const ONE_SAMPLE = 1 / 200 + 1e-9;

let dir: string;
let cli: (...args: string[]) => Promise<Run>;
let ok: (...args: string[]) => Promise<string>;
let client: SlimserveClient;
let set: Labelled;
let fp32Top: number[];
let fp32Accuracy: number;
let modelId: string;
let datasetId: string;
const modelBytes = buildMlp(SIZES, 3);

/** The report against onnxruntime-node on the variant's downloaded bytes: accuracies and agreement within one sample. */
async function expectReportMatchesReference(variant: Variant) {
  const report = variant.eval as EvalReport;
  expect(report).toMatchObject({ dataset: datasetId, samples: set.samples, hasLabels: true, engine: variant.engine });
  const got = await scoreOn(await client.downloadVariant(modelId, variant.id), set, CLASSES, fp32Top);
  expect(Math.abs(report.accuracy!.fp32 - fp32Accuracy)).toBeLessThanOrEqual(ONE_SAMPLE);
  expect(Math.abs(report.accuracy!.variant - got.accuracy)).toBeLessThanOrEqual(ONE_SAMPLE);
  expect(report.accuracy!.drop).toBeCloseTo(100 * (report.accuracy!.fp32 - report.accuracy!.variant), 9);
  expect(Math.abs(report.agreement - got.agreement!)).toBeLessThanOrEqual(ONE_SAMPLE);
}

const percent = (v: number) => `${(v * 100).toFixed(2)}%`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "slimserve-cli-jobs-"));
  ({ cli, ok } = cliIn(dir, { PATH: process.env.PATH ?? "", HOME: dir, SLIMSERVE_CONFIG: join(dir, "config.json") }));
  client = new SlimserveClient({ baseUrl, token: E2E_TOKENS.jobs });
  set = await labelledSet(modelBytes, { samples: 200, features: SIZES[0]!, classes: CLASSES, seed: 9 });
  const fp32 = await scoreOn(modelBytes, set, CLASSES);
  [fp32Top, fp32Accuracy] = [fp32.top, fp32.accuracy];
  await writeFile(join(dir, "mlp.onnx"), modelBytes);
  await writeFile(join(dir, "x.npy"), encodeNpy({ dtype: "float32", shape: [set.samples, set.features], data: set.x }));
  await writeFile(join(dir, "y.npy"), encodeNpy({ dtype: "int64", shape: [set.samples], data: set.labels }));
  await ok("login", "--url", baseUrl, "--token", E2E_TOKENS.jobs);
  modelId = JSON.parse(await ok("upload", "mlp.onnx", "--json")).id;
});

describe("slimserve CLI with datasets and jobs", () => {
  it("packs .npy inputs and labels into an .npz dataset, uploads a bare .npy, and lists both", async () => {
    const d = JSON.parse(await ok("dataset", "upload", "--input", "input=x.npy", "--labels", "y.npy", "--name", "e2e-set", "--json")) as Dataset;
    expect(d).toMatchObject({ name: "e2e-set", format: "npz", samples: 200, hasLabels: true });
    expect(d.arrays).toEqual([
      { name: "input", dtype: "float32", shape: [200, 64] },
      { name: "labels", dtype: "int64", shape: [200] },
    ]);
    datasetId = d.id;
    const bare = JSON.parse(await ok("dataset", "upload", "x.npy", "--json")) as Dataset;
    expect(bare).toMatchObject({ name: "x", format: "npy", samples: 200, hasLabels: false });
    const table = await ok("dataset", "ls");
    expect(table.split("\n")[0]).toMatch(/^ID\s+NAME\s+SAMPLES\s+ARRAYS\s+LABELS/);
    expect(table).toMatch(new RegExp(`${d.id}\\s+e2e-set\\s+200\\s+input float32\\[200,64\\], labels int64\\[200\\]\\s+yes`));
    expect(table).toMatch(new RegExp(`${bare.id}\\s+x\\s+200`));
    await ok("dataset", "rm", bare.id);
    expect((JSON.parse(await ok("dataset", "ls", "--json")) as { datasets: Dataset[] }).datasets.map((x) => x.id)).toEqual([d.id]);
  });

  it("makes a static int8 variant with evaluation as a job, drawing its progress bar until the job is done", async () => {
    const r = await cli("compress", modelId, "--scheme", "static", "--calibration", datasetId, "--method", "entropy", "--eval", datasetId);
    expect(r.code, r.stderr).toBe(0);
    // Not a terminal: the job's id, then one progress line per change on stderr, the last one full.
    const [head, ...bars] = r.stderr.trim().split("\n");
    expect(head).toMatch(/^job [0-9a-f]{24} \(variant\)$/);
    expect(bars.length).toBeGreaterThanOrEqual(1);
    expect(bars.every((l) => /^\[[#-]{30}\] +\d+% \S+/.test(l))).toBe(true);
    expect(bars.at(-1)).toMatch(/^\[#{30}\] 100% /);
    const id = /^made variant ([0-9a-f]{24}): int8 static, /.exec(r.stdout)?.[1];
    expect(id, r.stdout).toBeDefined();
    const v = await client.getVariant(modelId, id!);
    expect(v.recipe).toMatchObject({ quantize: { bits: 8, scheme: "static", calibration: { dataset: datasetId, method: "entropy" } } });
    await expectReportMatchesReference(v);
    const e = v.eval!;
    expect(r.stdout).toContain(`accuracy ${percent(e.accuracy!.fp32)} -> ${percent(e.accuracy!.variant)}`);
    expect(r.stdout).toContain(`agreement ${percent(e.agreement)}`);
  });

  it("follows a job someone else started with `jobs --watch`, then reads it back", async () => {
    const answer = await client.compress(modelId, { quantize: { bits: 8, scheme: "dynamic" }, eval: { dataset: datasetId } });
    expect(answer.job?.id).toMatch(/^[0-9a-f]{24}$/);
    const jobId = answer.job!.id;
    const r = await cli("jobs", jobId, "--watch");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim().split("\n")[0]).toBe(`job ${jobId} (variant)`);
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(/^\[#{30}\] 100% /);
    const job = await client.getJob(jobId);
    expect(job).toMatchObject({ status: "succeeded", progress: 1, kind: "variant" });
    const made = job.result as Variant;
    expect(r.stdout).toMatch(new RegExp(`^${jobId}\\s+variant\\s+succeeded\\s+\\[#{30}\\] 100%`));
    expect(r.stdout).toContain(`result: variant ${made.id}: int8 dynamic`);
    expect(JSON.parse(await ok("jobs", jobId, "--json"))).toEqual(job);
    await expectReportMatchesReference(made);
  });

  it("evaluates a variant made without evaluation (`evaluate`), storing the report on its record", async () => {
    const plain = JSON.parse(await ok("compress", modelId, "--bits", "8", "--json")) as Variant;
    expect(plain.eval).toBeUndefined();
    const evaluated = JSON.parse(await ok("evaluate", modelId, plain.id, "--dataset", datasetId, "--json")) as Variant;
    expect(evaluated.id).toBe(plain.id);
    await expectReportMatchesReference(evaluated);
    expect((await client.getVariant(modelId, plain.id)).eval).toEqual(evaluated.eval);
  });

  it("searches for the smallest variant within 3 points of FP32's accuracy at 95% confidence (`search --target-drop`)", async () => {
    const r = JSON.parse(await ok("search", modelId, "--target-drop", "3", "--dataset", datasetId, "--json")) as SearchResult;
    expect(r).toMatchObject({ met: true, objective: "smallest", target: { maxAccuracyDrop: 3 }, confidence: 0.95 });
    expect(r.trace.length).toBeGreaterThanOrEqual(2);
    // A candidate meets the target when the upper bound of its paired 95% interval does, not its point estimate.
    for (const t of r.trace) expect(t.meetsTarget).toBe(t.accuracyDropInterval !== null && t.accuracyDropInterval[1] <= 3);
    const smallest = Math.min(...r.trace.filter((t) => t.meetsTarget).map((t) => t.bytes));
    expect(r.variant!.bytes).toBe(smallest);
    expect(r.variant!.eval!.intervals.accuracyDrop![1]).toBeLessThanOrEqual(3);
    await expectReportMatchesReference(await client.getVariant(modelId, r.variant!.id));
    // The same request again joins the finished job: the human form prints the trace and the winner.
    const human = await ok("search", modelId, "--target-drop", "3", "--dataset", datasetId);
    expect(human.split("\n")[0]).toMatch(/^RECIPE\s+SIZE\s+RATIO\s+ACC Δ\s+DROP ≤ \(95%\)\s+AGREE\s+COSINE\s+MEETS$/);
    expect(human).toContain(`smallest meeting maxAccuracyDrop 3: variant ${r.variant!.id}`);
    // 200 samples cannot establish half a point at 95%: the search is refused with the smallest provable drop.
    const small = await cli("search", modelId, "--target-drop", "0.5", "--dataset", datasetId);
    expect(small.code).not.toBe(0);
    expect(small.stderr).toMatch(/too small to decide: on 200 samples at 95% confidence no variant can show a drop below 1\.37 points/);
  });

  it("prunes then quantizes with evaluation, reporting the bytes on the wire", async () => {
    const v = JSON.parse(await ok("compress", modelId, "--prune", "0.3", "--bits", "8", "--eval", datasetId, "--json")) as Variant;
    expect(v.recipe).toMatchObject({ prune: { sparsity: 0.3 }, quantize: { bits: 8 } });
    expect(v.stages!.encoded.br).toBeLessThan(v.stages!.stored);
    await expectReportMatchesReference(v);
    const shown = await ok("show", modelId);
    const row = shown.split("\n").find((l) => l.startsWith(v.id))!;
    const drop = v.eval!.accuracy!.drop;
    expect(row).toContain("prune 30% + int8 weight-only");
    expect(row).toContain(`${drop <= 0 ? "+" : "-"}${Math.abs(drop).toFixed(2)} pp`);
  });

  it("refuses what it cannot do with the API's error (exit 1) or a usage error (exit 2)", async () => {
    const missing = await cli("compress", modelId, "--bits", "8", "--eval", "0".repeat(24));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/404 not_found: dataset '0{24}'/);
    const noTarget = await cli("search", modelId, "--dataset", datasetId);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toContain("--target-drop");
    const notNpy = await cli("dataset", "upload", "--input", "input=mlp.onnx");
    expect(notNpy.code).toBe(1);
    expect(notNpy.stderr).toContain("mlp.onnx: not a .npy file");
    expect(await readFile(join(dir, "config.json"), "utf8")).toContain(E2E_TOKENS.jobs);
  });
});
