// The `slimserve` command line: parses arguments, resolves settings, calls the typed client, prints tables or JSON.
import { mkdir, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, sep } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_PART_BYTES, SlimserveClient, SlimserveError, isJobRunning } from "../client/slimserve.js";
import { resolveSettings, writeConfig } from "./config.js";
import { evalCells, evalLine, fixed, formatTable, progressLine, warningLines } from "./format.js";
import { formatBytes, recipeWords } from "../formats/words.js";
import { NpyError, decodeNpy, encodeNpy, npyToTensor, tensorToNpy } from "../formats/npy.js";
import { encodeNpz } from "../formats/npz.js";

export const USAGE = `slimserve — compress ONNX models and serve them at the edge

Usage: slimserve <command> [arguments] [--url URL] [--token TOKEN] [--json]

  login                               check --url/--token and save them to the config file
  upload <model.onnx> [--name NAME] [--parts] [--part-mb MB] [--external-data FILE ...]
                                      upload a model; over 64 MiB (or with --parts) in parts, with a progress bar,
                                      resumed from <model.onnx>.upload.json when an earlier try was cut off; a model
                                      saved with external data names each file it keeps weights in (in parts too)
  ls                                  list models
  show <model> [<variant>]            a model and its variants, or one variant's record
  compress <model> [--bits 16|8|4|2|1] [--scheme weight-only|dynamic|static] [--calibration DATASET [--method M]]
           [--prune SPARSITY] [--eval DATASET] [--recipe JSON|@file.json]
                                      make a variant; jobs (static, --eval) are followed with a progress bar
  evaluate <model> <variant> --dataset DATASET
                                      evaluate a variant against FP32 (accuracy, agreement, latency)
  search <model> --dataset DATASET --target-drop POINTS | --min-agreement A | --min-cosine C
           [--objective smallest|fastest] [--confidence C]
                                      the smallest (or fastest) variant that meets the target
  jobs <job-id> [--watch]             a job's state (with --watch: follow it until it ends)
  dataset upload <file.npz|file.npy> | --input NAME=x.npy ... [--labels y.npy] [--name NAME]
        | ls | show <id> | rm <id>    datasets for calibration and evaluation
  infer <model> <x.npy> | --input NAME=x.npy ... [--bits N | --variant ID] [--out DIR]
                                      run inference; --out writes one <output>.npy per output
  infer <model> --npy x.npy [--input NAME=x.npy ...] [--bits N | --variant ID] [--out DIR]
                                      over V2 (Open Inference Protocol) with binary tensors: <model> may also be a
                                      variant id, an experiment or a model's name; writes <output>.npy to --out or .
  download <model> [<variant>] [-o FILE]
  rm <model>                          delete a model and its variants
  usage                               what the tenant holds against each quota, and its rate limit
  experiment ls | show <name> | create --spec JSON|@file | update <name> --spec JSON|@file
           | delete <name> | promote <name> [--spec ...] | rollback <name> | infer <name> <x.npy> [--arm TOKEN]

Settings: flags, then SLIMSERVE_URL / SLIMSERVE_TOKEN, then the file written by login
(~/.config/slimserve/config.json, or SLIMSERVE_CONFIG). --json prints the API's JSON for scripts.`;

/**
 * @typedef {{ write(s: string): unknown, isTTY?: boolean }} Stream
 * @typedef {{ env: Record<string, string | undefined>, stdout: Stream, stderr: Stream, cwd?: string }} Io
 */

class UsageError extends Error {}

const OPTIONS = /** @type {const} */ ({
  url: { type: "string" },
  token: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
  name: { type: "string" },
  bits: { type: "string" },
  recipe: { type: "string" },
  variant: { type: "string" },
  input: { type: "string", multiple: true },
  "external-data": { type: "string", multiple: true },
  npy: { type: "string" },
  out: { type: "string" },
  output: { type: "string", short: "o" },
  wait: { type: "boolean", default: false },
  watch: { type: "boolean", default: false },
  scheme: { type: "string" },
  calibration: { type: "string" },
  method: { type: "string" },
  prune: { type: "string" },
  eval: { type: "string" },
  dataset: { type: "string" },
  labels: { type: "string" },
  "target-drop": { type: "string" },
  "min-agreement": { type: "string" },
  confidence: { type: "string" },
  "min-cosine": { type: "string" },
  objective: { type: "string" },
  spec: { type: "string" },
  arm: { type: "string" },
  parts: { type: "boolean", default: false },
  "part-mb": { type: "string" },
});

/** Files over this go in parts (they need not fit in memory, and a cut connection loses one part, not the upload). */
const SINGLE_UPLOAD_BYTES = 64 * 1024 * 1024;

/**
 * Uploads a file in parts, read a part at a time; the state after each part is saved beside the file
 * (<file>.upload.json) so that running the same command again resumes, and removed once the upload is done (with
 * `keepState`, left for the caller to remove: a file of external data is reused by a rerun until its model is stored).
 * `send` is the client's upload in parts of a model or of a file of external data.
 * @template T
 * @param {string} file @param {number} size @param {string | undefined} partMb @param {Io} io
 * @param {(source: import("../client/slimserve.js").UploadSource, options: import("../client/slimserve.js").UploadOptions) => Promise<T>} send
 * @param {boolean} [keepState]
 * @returns {Promise<T>}
 */
async function uploadInParts(file, size, partMb, io, send, keepState = false) {
  const partBytes = partMb === undefined ? DEFAULT_PART_BYTES : Math.round(Number(partMb) * 1024 * 1024);
  if (!Number.isFinite(partBytes) || partBytes <= 0) throw new UsageError(`--part-mb takes a size in MiB, got '${partMb}'`);
  const statePath = `${file}.upload.json`;
  /** @type {import("../client/slimserve.js").UploadState | undefined} */
  let resume;
  try {
    resume = JSON.parse(await readFile(statePath, "utf8"));
  } catch {
    resume = undefined;
  }
  if (resume && resume.totalBytes === size) {
    io.stderr.write(`resuming upload ${resume.uploadId} (${Object.keys(resume.parts).length} parts sent)\n`);
  }
  const handle = await open(file, "r");
  try {
    const source = {
      size,
      read: async (/** @type {number} */ offset, /** @type {number} */ length) => {
        const bytes = new Uint8Array(length);
        const { bytesRead } = await handle.read(bytes, 0, length, offset);
        if (bytesRead !== length) throw new UsageError(`${file} changed while uploading`);
        return bytes;
      },
    };
    const done = await send(source, {
      partBytes,
      resume,
      onPart: (state) => writeFile(statePath, JSON.stringify(state)),
      onProgress: (sent, total) => {
        const line = `${progressLine({ status: "running", stage: "upload", progress: sent / total })}  ${formatBytes(sent)} of ${formatBytes(total)}`;
        io.stderr.write(io.stderr.isTTY ? `\r${line}` : `${line}\n`);
      },
    });
    if (io.stderr.isTTY) io.stderr.write("\n");
    if (!keepState) await rm(statePath, { force: true });
    return done;
  } finally {
    await handle.close();
  }
}

/** `{"a":1}` inline, or `@file.json`. @param {string} text @param {string} what */
async function jsonArgument(text, what) {
  const source = text.startsWith("@") ? await readFile(text.slice(1), "utf8") : text;
  try {
    return JSON.parse(source);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${/** @type {Error} */ (err).message}`);
  }
}

/** @param {string[]} positionals @param {number} i @param {string} what */
function need(positionals, i, what) {
  const v = positionals[i];
  if (!v) throw new UsageError(`missing ${what}`);
  return v;
}

/**
 * Inputs from .npy files: `--input name=x.npy`, or one positional file for a single-input model.
 * @param {SlimserveClient | null} client @param {string | null} modelId @param {string[]} files @param {string[]} named
 */
async function readInputs(client, modelId, files, named) {
  /** @type {Record<string, ReturnType<typeof npyToTensor>>} */
  const inputs = {};
  for (const spec of named) {
    const eq = spec.indexOf("=");
    if (eq <= 0) throw new UsageError(`--input takes NAME=FILE.npy, got '${spec}'`);
    inputs[spec.slice(0, eq)] = npyToTensor(decodeNpy(await readFile(spec.slice(eq + 1))));
  }
  if (files.length > 0) {
    if (files.length > 1) throw new UsageError("give several inputs as --input NAME=FILE.npy");
    let name = "input";
    if (client && modelId) {
      const model = await client.getModel(modelId);
      if (model.inputs.length !== 1) throw new UsageError(`model has inputs ${model.inputs.map((i) => i.name).join(", ")}: use --input NAME=FILE.npy`);
      name = model.inputs[0]?.name ?? name;
    }
    inputs[name] = npyToTensor(decodeNpy(await readFile(/** @type {string} */ (files[0]))));
  }
  if (Object.keys(inputs).length === 0) throw new UsageError("no inputs: give an .npy file or --input NAME=FILE.npy");
  return inputs;
}

/**
 * @param {string[]} argv
 * @param {Io} io
 * @returns {Promise<number>} the exit code
 */
export async function run(argv, io) {
  const out = (/** @type {string} */ s) => io.stdout.write(`${s}\n`);
  const err = (/** @type {string} */ s) => io.stderr.write(`${s}\n`);
  try {
    const { values: flags, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    const [command, ...args] = positionals;
    if (flags.help || !command) {
      out(USAGE);
      return command || flags.help ? 0 : 2;
    }
    const settings = await resolveSettings({ url: flags.url, token: flags.token }, io.env);
    const client = new SlimserveClient({ baseUrl: settings.url, token: settings.token });
    const print = (/** @type {unknown} */ value, /** @type {() => string} */ human) => out(flags.json ? JSON.stringify(value, null, 2) : human());
    /** Waits for a job, drawing the progress bar on stderr (redrawn in place on a terminal). @param {string} id */
    const follow = async (id) => {
      let last = "";
      const job = await client.waitForJob(id, {
        onProgress: (j) => {
          if (flags.json) return;
          if (!last) err(`job ${j.id}${j.kind ? ` (${j.kind})` : ""}`);
          const line = progressLine(j);
          if (io.stderr.isTTY) io.stderr.write(`\r${line}`);
          else if (line !== last) err(line);
          last = line;
        },
      });
      if (io.stderr.isTTY && !flags.json) io.stderr.write("\n");
      return job;
    };
    /**
     * The result of a job-backed request: followed to its end when the server answered 202. A failed job prints its
     * error and gives null (exit 1).
     * @param {import("../client/slimserve.js").JobAnswer} answer
     */
    const settle = async (answer) => {
      if (!("job" in answer)) return answer.result;
      const job = await follow(answer.job.id);
      if (job.status === "succeeded") return job.result;
      const e = /** @type {{ code?: string, message?: string } | undefined} */ (job.error);
      err(`slimserve: job ${job.id} ${job.status}${e ? `: ${e.code}: ${e.message}` : ""}`);
      if (flags.json) out(JSON.stringify(job, null, 2));
      return null;
    };

    switch (command) {
      case "login": {
        if (!settings.token) throw new UsageError("login needs --token (or SLIMSERVE_TOKEN)");
        const models = await client.listModels(); // proves the token works before saving it
        await writeConfig(settings.path, { url: settings.url, token: settings.token });
        print({ url: settings.url, config: settings.path, models: models.length }, () => `Logged in to ${settings.url} (${models.length} models); saved ${settings.path}`);
        return 0;
      }
      case "upload": {
        const file = need(args, 0, "model file");
        const name = flags.name ?? basename(file).replace(/\.onnx$/i, "");
        const size = (await stat(file)).size;
        // Each file of external data first, in parts, by the location the model names it by: its path from the model's folder.
        /** @type {string[]} */
        const externalData = [];
        for (const data of /** @type {string[]} */ (flags["external-data"] ?? [])) {
          const location = relative(dirname(file), data).split(sep).join("/");
          if (location.startsWith("../")) throw new UsageError(`--external-data ${data} is not in the model's folder (${dirname(file)}), where ONNX looks for it`);
          io.stderr.write(`${location}\n`);
          // A file uploaded by an earlier run whose model was refused is taken again from its state file (completing a
          // complete file answers the same upload).
          const upload = await uploadInParts(data, (await stat(data)).size, flags["part-mb"], io, (source, options) => client.uploadExternalData(source, location, options), true);
          externalData.push(upload.id);
        }
        const model =
          flags.parts || flags["part-mb"] || size > SINGLE_UPLOAD_BYTES
            ? await uploadInParts(file, size, flags["part-mb"], io, (source, options) => client.uploadModelInParts(source, { ...options, name, externalData }))
            : await client.uploadModel(new Uint8Array(await readFile(file)), { name, externalData });
        for (const data of /** @type {string[]} */ (flags["external-data"] ?? [])) await rm(`${data}.upload.json`, { force: true });
        print(model, () => `${model.id}  ${model.name}  ${formatBytes(model.bytes)}  ${model.parameters} parameters`);
        return 0;
      }
      case "ls": {
        const models = await client.listModels();
        print({ models }, () =>
          models.length === 0
            ? "No models yet: slimserve upload model.onnx"
            : formatTable(
                ["ID", "NAME", "SIZE", "PARAMS", "INPUTS", "CREATED"],
                models.map((m) => [m.id, m.name, formatBytes(m.bytes), String(m.parameters), m.inputs.map((i) => i.name).join(","), m.createdAt.slice(0, 19)]),
                new Set([2, 3]),
              ),
        );
        return 0;
      }
      case "show": {
        const modelId = need(args, 0, "model id");
        if (args[1]) {
          const v = await client.getVariant(modelId, args[1]);
          print(v, () => JSON.stringify(v, null, 2));
          return 0;
        }
        const model = await client.getModel(modelId);
        const variants = await Promise.all(model.variants.map((s) => client.getVariant(model.id, s.id)));
        print({ ...model, variants }, () => {
          const head = [
            `${model.name} (${model.id})`,
            `  ${formatBytes(model.bytes)}, ${model.parameters} parameters, opset ${model.opset.map((o) => `${o.domain || "ai.onnx"}:${o.version}`).join(" ")}`,
            `  inputs:  ${model.inputs.map((i) => `${i.name} ${i.type}[${(i.shape ?? []).join(",")}]`).join("; ")}`,
            `  outputs: ${model.outputs.map((o) => `${o.name} ${o.type}[${(o.shape ?? []).join(",")}]`).join("; ")}`,
          ];
          if (variants.length === 0) return [...head, "  no variants yet: slimserve compress <model> --bits 8"].join("\n");
          const table = formatTable(
            ["VARIANT", "BITS", "RECIPE", "SIZE", "RATIO", "WIRE BR", "ACC Δ", "AGREE", "LATENCY", "ENGINE"],
            variants.map((v) => [v.id, String(v.bits), recipeWords(v.recipe), formatBytes(v.bytes), `${fixed(v.compressionRatio)}x`, v.stages ? formatBytes(v.stages.encoded.br) : "—", ...evalCells(v.eval), v.engine ?? "—"]),
            new Set([1, 3, 4, 5, 6, 7, 8]),
          );
          return [...head, "", table].join("\n");
        });
        return 0;
      }
      case "compress": {
        const modelId = need(args, 0, "model id");
        const answer = await client.compress(modelId, await recipeFromFlags(flags));
        let variant = answer.variant;
        if (answer.job) {
          const made = /** @type {import("../client/slimserve.js").Variant | null} */ (await settle({ job: answer.job }));
          if (!made) return 1;
          variant = made;
        }
        if (!variant) throw new Error("the server answered neither a variant nor a job");
        const v = variant;
        print(v, () => variantLines(v, answer.created ? "made" : "found"));
        return 0;
      }
      case "evaluate": {
        const modelId = need(args, 0, "model id");
        const variantId = need(args, 1, "variant id");
        if (!flags.dataset) throw new UsageError("evaluate needs --dataset DATASET");
        const v = /** @type {import("../client/slimserve.js").Variant | null} */ (await settle(await client.evaluateVariant(modelId, variantId, flags.dataset)));
        if (!v) return 1;
        print(v, () => variantLines(v, "evaluated"));
        return 0;
      }
      case "search": {
        const modelId = need(args, 0, "model id");
        const r = /** @type {import("../client/slimserve.js").SearchResult | null} */ (await settle(await client.search(modelId, searchFromFlags(flags))));
        if (!r) return 1;
        print(r, () => searchLines(r));
        return r.met ? 0 : 1;
      }
      case "jobs": {
        const id = need(args, 0, "job id");
        const job = flags.watch || flags.wait ? await follow(id) : await client.getJob(id);
        const e = /** @type {{ code?: string, message?: string } | undefined} */ (job.error);
        print(job, () => [`${job.id}  ${job.kind ?? ""}  ${job.status}  ${progressLine(job)}`, ...(e ? [`error: ${e.code}: ${e.message}`] : []), ...jobResultLines(job)].join("\n"));
        return isJobRunning(job) || job.status === "succeeded" ? 0 : 1;
      }
      case "dataset":
        return await dataset(client, args, flags, print);
      case "infer": {
        if (flags.npy) return await inferBinary(client, need(args, 0, "model"), flags, print);
        const modelId = need(args, 0, "model id");
        const inputs = await readInputs(client, modelId, args.slice(1), flags.input ?? []);
        const answer = await client.infer(modelId, inputs, { bits: flags.bits, variant: flags.variant });
        const written = await writeOutputs(answer.outputs, flags.out);
        print(answer, () =>
          [
            `${answer.variant ? `variant ${answer.variant}` : "original"} (${answer.bits} bits, ${answer.engine}) in ${fixed(answer.timeMs)} ms`,
            ...Object.entries(answer.outputs).map(([name, t]) => `  ${name} ${t.type}[${t.dims.join(",")}]: ${preview(t.data)}${written[name] ? ` -> ${written[name]}` : ""}`),
          ].join("\n"),
        );
        return 0;
      }
      case "download": {
        const modelId = need(args, 0, "model id");
        const bytes = args[1] ? await client.downloadVariant(modelId, args[1]) : await client.downloadModel(modelId);
        const file = flags.output ?? `${modelId}${args[1] ? `-${args[1]}` : ""}.onnx`;
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, bytes);
        print({ file, bytes: bytes.byteLength }, () => `wrote ${file} (${formatBytes(bytes.byteLength)})`);
        return 0;
      }
      case "rm": {
        const modelId = need(args, 0, "model id");
        await client.deleteModel(modelId);
        print({ deleted: modelId }, () => `deleted ${modelId}`);
        return 0;
      }
      case "usage": {
        const usage = await client.usage();
        const { rateLimit, ...quotas } = usage;
        print(usage, () =>
          [
            formatTable(["LIMIT", "USED", "MAX"], Object.entries(quotas).map(([name, q]) => [name, String(q.used), String(q.max)]), new Set([1, 2])),
            `rate limit: ${rateLimit.requests} requests per ${rateLimit.periodSeconds} s`,
          ].join("\n"),
        );
        return 0;
      }
      case "experiment":
        return await experiment(client, args, flags, print, readInputs);
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && /** @type {{ code?: string }} */ (e).code?.startsWith("ERR_PARSE_ARGS"))) {
      err(`slimserve: ${e.message}\nRun 'slimserve --help' for usage.`);
      return 2;
    }
    if (e instanceof SlimserveError || e instanceof NpyError) {
      err(`slimserve: ${e.message}`);
      return 1;
    }
    const file = /** @type {{ syscall?: string, path?: string, message?: string }} */ (e);
    if (file.syscall && file.path) {
      // A file the command reads or writes (missing input, unwritable output): one line, like every other error.
      err(`slimserve: cannot ${file.syscall} ${file.path} (${String(file.message).split(",")[0]})`);
      return 1;
    }
    const cause = /** @type {{ cause?: { code?: string } }} */ (e).cause;
    if (cause?.code === "ECONNREFUSED") {
      err(`slimserve: cannot reach the server (${/** @type {Error} */ (e).message}); check --url or SLIMSERVE_URL`);
      return 1;
    }
    throw e;
  }
}

/**
 * The recipe the compress flags describe; `--recipe` gives a base that the other flags extend.
 * @param {Record<string, unknown>} flags
 */
async function recipeFromFlags(flags) {
  /** @type {Record<string, any>} */
  const recipe = flags.recipe ? await jsonArgument(String(flags.recipe), "--recipe") : {};
  const str = (/** @type {string} */ k) => (typeof flags[k] === "string" ? /** @type {string} */ (flags[k]) : undefined);
  const scheme = str("scheme") ?? (str("calibration") ? "static" : undefined);
  if (str("bits") || scheme || str("calibration")) {
    const quantize = { ...recipe.quantize, bits: Number(str("bits") ?? recipe.quantize?.bits ?? 8) };
    if (!Number.isInteger(quantize.bits)) throw new UsageError(`--bits takes an integer, got '${str("bits")}'`);
    if (scheme) quantize.scheme = scheme;
    if (str("calibration")) quantize.calibration = { dataset: str("calibration"), ...(str("method") ? { method: str("method") } : {}) };
    else if (str("method")) throw new UsageError("--method goes with --calibration DATASET");
    recipe.quantize = quantize;
  }
  if (str("prune")) {
    const sparsity = Number(str("prune"));
    if (!(sparsity >= 0 && sparsity < 1)) throw new UsageError(`--prune takes a sparsity in [0, 1), got '${str("prune")}'`);
    recipe.prune = { ...recipe.prune, sparsity };
  }
  if (str("eval")) recipe.eval = { dataset: str("eval") };
  if (!recipe.quantize && !recipe.prune) throw new UsageError("compress needs --bits N, --scheme, --prune SPARSITY or --recipe JSON|@file.json");
  return recipe;
}

/** @param {Record<string, unknown>} flags */
function searchFromFlags(flags) {
  if (typeof flags.dataset !== "string") throw new UsageError("search needs --dataset DATASET");
  /** @type {Record<string, number>} */
  const target = {};
  for (const [flag, key] of [["target-drop", "maxAccuracyDrop"], ["min-agreement", "minAgreement"], ["min-cosine", "minCosine"]]) {
    const v = flags[/** @type {string} */ (flag)];
    if (typeof v !== "string") continue;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`--${flag} takes a number, got '${v}'`);
    target[/** @type {string} */ (key)] = n;
  }
  if (Object.keys(target).length !== 1) throw new UsageError("search needs one of --target-drop POINTS, --min-agreement A, --min-cosine C");
  const objective = flags.objective ?? "smallest";
  if (objective !== "smallest" && objective !== "fastest") throw new UsageError(`--objective is smallest or fastest, got '${objective}'`);
  /** @type {{ confidence?: number }} */
  const level = {};
  if (typeof flags.confidence === "string") {
    level.confidence = Number(flags.confidence);
    if (!Number.isFinite(level.confidence)) throw new UsageError(`--confidence takes a number, got '${flags.confidence}'`);
  }
  return { target, objective: /** @type {"smallest" | "fastest"} */ (objective), dataset: flags.dataset, ...level };
}

/** @param {import("../client/slimserve.js").Variant} v @param {string} verb */
function variantLines(v, verb) {
  const lines = [`${verb} variant ${v.id}: ${recipeWords(v.recipe)}, ${formatBytes(v.bytes)} (${fixed(v.compressionRatio)}x smaller)`];
  if (v.stages) lines.push(`  on the wire: gzip ${formatBytes(v.stages.encoded.gzip)}, br ${formatBytes(v.stages.encoded.br)} (FP32 ${formatBytes(v.stages.denseFp32)})`);
  if (v.eval) lines.push(`  ${evalLine(v.eval)}`);
  lines.push(...warningLines(v));
  return lines.join("\n");
}

/** @param {import("../client/slimserve.js").SearchResult} r */
function searchLines(r) {
  const table = formatTable(
    ["RECIPE", "SIZE", "RATIO", "ACC Δ", `DROP ≤ (${Math.round(r.confidence * 1000) / 10}%)`, "AGREE", "COSINE", "MEETS"],
    r.trace.map((t) => [
      recipeWords(t.recipe),
      formatBytes(t.bytes),
      `${fixed(t.compressionRatio)}x`,
      t.accuracyDrop === null ? "—" : `${t.accuracyDrop <= 0 ? "+" : "-"}${Math.abs(t.accuracyDrop).toFixed(2)} pp`,
      t.accuracyDropInterval === null ? "—" : `${t.accuracyDropInterval[1].toFixed(2)} pp`,
      `${(t.agreement * 100).toFixed(2)}%`,
      t.cosine.toFixed(6),
      t.meetsTarget ? "yes" : "no",
    ]),
    new Set([1, 2, 3, 4, 5, 6]),
  );
  const target = Object.entries(r.target).map(([k, v]) => `${k} ${v}`).join(", ");
  const verdict = r.met && r.variant ? variantLines(r.variant, `${r.objective} meeting ${target}:`) : `no recipe met ${target}`;
  return `${table}\n${verdict}`;
}

/** What a finished job made, in a line or two. @param {import("../client/slimserve.js").Job} job */
function jobResultLines(job) {
  if (job.status !== "succeeded" || !job.result || typeof job.result !== "object") return [];
  const r = /** @type {Record<string, unknown>} */ (job.result);
  if (Array.isArray(r.trace)) return searchLines(/** @type {import("../client/slimserve.js").SearchResult} */ (job.result)).split("\n");
  if (typeof r.id === "string" && typeof r.modelId === "string") return variantLines(/** @type {import("../client/slimserve.js").Variant} */ (job.result), "result:").split("\n");
  return [];
}

/**
 * @param {SlimserveClient} client
 * @param {string[]} args
 * @param {{ name?: string, input?: string[], labels?: string }} flags
 * @param {(value: unknown, human: () => string) => void} print
 */
async function dataset(client, args, flags, print) {
  const [sub, id] = args;
  const line = (/** @type {import("../client/slimserve.js").Dataset} */ d) =>
    `${d.id}  ${d.name}  ${d.samples} samples  ${d.arrays.map((a) => `${a.name} ${a.dtype}[${a.shape.join(",")}]`).join(", ")}  ${formatBytes(d.bytes)}`;
  switch (sub) {
    case "upload": {
      let bytes;
      let name = flags.name;
      if (flags.input?.length) {
        if (id) throw new UsageError("give either a file or --input NAME=x.npy, not both");
        /** @type {Record<string, Uint8Array>} */
        const arrays = {};
        for (const spec of flags.input) {
          const eq = spec.indexOf("=");
          if (eq <= 0) throw new UsageError(`--input takes NAME=FILE.npy, got '${spec}'`);
          arrays[spec.slice(0, eq)] = await npyFile(spec.slice(eq + 1));
        }
        if (flags.labels) arrays.labels = await npyFile(flags.labels);
        bytes = encodeNpz(arrays);
      } else {
        const file = need(args, 1, "dataset file (.npz or .npy) or --input NAME=x.npy");
        if (flags.labels) throw new UsageError("--labels goes with --input NAME=x.npy (an .npz carries its own labels)");
        bytes = new Uint8Array(await readFile(file));
        name ??= basename(file).replace(/\.(npz|npy)$/i, "");
      }
      const d = await client.uploadDataset(bytes, { name });
      print(d, () => line(d));
      return 0;
    }
    case "ls": {
      const list = await client.listDatasets();
      print({ datasets: list }, () =>
        list.length === 0
          ? "No datasets yet: slimserve dataset upload data.npz"
          : formatTable(
              ["ID", "NAME", "SAMPLES", "ARRAYS", "LABELS", "SIZE"],
              list.map((d) => [d.id, d.name, String(d.samples), d.arrays.map((a) => `${a.name} ${a.dtype}[${a.shape.join(",")}]`).join(", "), d.hasLabels ? "yes" : "no", formatBytes(d.bytes)]),
              new Set([2, 5]),
            ),
      );
      return 0;
    }
    case "show": {
      const d = await client.getDataset(need(args, 1, "dataset id"));
      print(d, () => line(d));
      return 0;
    }
    case "rm": {
      const target = need(args, 1, "dataset id");
      await client.deleteDataset(target);
      print({ deleted: target }, () => `deleted dataset ${target}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown dataset command '${sub ?? ""}' (upload, ls, show, rm)`);
  }
}

/** An .npy file's bytes, checked to be one (so a wrong file fails here, naming it). @param {string} file */
async function npyFile(file) {
  const bytes = new Uint8Array(await readFile(file));
  decodeNpy(bytes, { label: file });
  return bytes;
}

/** @param {(number | boolean)[]} data */
const preview = (data) => `[${data.slice(0, 6).map((v) => (typeof v === "number" ? Number(v.toPrecision(5)) : v)).join(", ")}${data.length > 6 ? ", …" : ""}]`;

/**
 * @param {Record<string, { type: string, dims: number[], data: (number | boolean)[] } | import("../client/slimserve.js").V2OutputTensor>} outputs
 * @param {string | undefined} dir
 * @returns {Promise<Record<string, string>>}
 */
async function writeOutputs(outputs, dir) {
  /** @type {Record<string, string>} */
  const written = {};
  if (!dir) return written;
  await mkdir(dir, { recursive: true });
  for (const [name, tensor] of Object.entries(outputs)) {
    const file = join(dir, `${name.replace(/[^A-Za-z0-9._-]/g, "_")}.npy`);
    // Binary V2 outputs are typed arrays already: written as they came.
    const data = /** @type {unknown} */ (tensor.data);
    const npy = ArrayBuffer.isView(data)
      ? encodeNpy({ dtype: tensor.type, shape: tensor.dims, data: /** @type {import("../formats/npy.js").NpyArray["data"]} */ (data) })
      : encodeNpy(tensorToNpy(/** @type {{ type: string, dims: number[], data: (number | boolean)[] }} */ (tensor)));
    await writeFile(file, npy);
    written[name] = file;
  }
  return written;
}

/**
 * `infer --npy`: the .npy files' bytes go out as V2 binary tensors and the outputs come back as binary, written as
 * .npy: no number passes through JSON either way.
 * @param {SlimserveClient} client
 * @param {string} model
 * @param {{ npy?: string, input?: string[], bits?: string, variant?: string, out?: string }} flags
 * @param {(value: unknown, human: () => string) => void} print
 */
async function inferBinary(client, model, flags, print) {
  /** @type {Record<string, import("../client/slimserve.js").V2Tensor>} */
  const inputs = {};
  const read = async (/** @type {string} */ file) => {
    const a = decodeNpy(await readFile(file));
    return { type: a.dtype, dims: a.shape, data: a.data };
  };
  for (const spec of flags.input ?? []) {
    const eq = spec.indexOf("=");
    if (eq <= 0) throw new UsageError(`--input takes NAME=FILE.npy, got '${spec}'`);
    inputs[spec.slice(0, eq)] = await read(spec.slice(eq + 1));
  }
  if (flags.npy) {
    const declared = (await client.v2Metadata(model)).inputs;
    const open = declared.filter((i) => !(i.name in inputs));
    if (open.length !== 1) throw new UsageError(`model has inputs ${declared.map((i) => i.name).join(", ")}: name the others with --input NAME=FILE.npy`);
    inputs[/** @type {{ name: string }} */ (open[0]).name] = await read(flags.npy);
  }
  const answer = await client.inferV2(model, inputs, { version: flags.variant ?? flags.bits });
  const written = await writeOutputs(answer.outputs, flags.out ?? ".");
  const p = answer.response.parameters ?? {};
  print({ ...answer.response, written }, () =>
    [
      `${answer.response.model_name} version ${answer.response.model_version ?? p.arm ?? "?"} (${p.bits} bits, ${p.engine}) in ${fixed(Number(p.time_ms))} ms`,
      ...Object.entries(answer.outputs).map(([name, t]) => `  ${name} ${t.type}[${t.dims.join(",")}] -> ${written[name]}`),
    ].join("\n"),
  );
  return 0;
}

/**
 * @param {SlimserveClient} client
 * @param {string[]} args
 * @param {{ spec?: string, arm?: string, input?: string[], out?: string }} flags
 * @param {(value: unknown, human: () => string) => void} print
 * @param {typeof readInputs} inputsFrom
 */
async function experiment(client, args, flags, print, inputsFrom) {
  const [sub, name] = args;
  const named = () => need(args, 1, "experiment name");
  const show = (/** @type {unknown} */ v) => print(v, () => JSON.stringify(v, null, 2));
  switch (sub) {
    case "ls": {
      const list = await client.listExperiments();
      print({ experiments: list }, () =>
        list.length === 0 ? "No experiments." : formatTable(["NAME", "STATUS", "MODE", "MODEL"], list.map((x) => [x.name, String(x.status ?? "—"), String(x.mode ?? "—"), String(x.model ?? "—")])),
      );
      return 0;
    }
    case "show":
      show(await client.getExperiment(named()));
      return 0;
    case "create":
      if (!flags.spec) throw new UsageError("experiment create needs --spec JSON|@file.json");
      show(await client.createExperiment({ ...(name ? { name } : {}), ...(await jsonArgument(flags.spec, "--spec")) }));
      return 0;
    case "update":
      if (!flags.spec) throw new UsageError("experiment update needs --spec JSON|@file.json");
      show(await client.updateExperiment(named(), await jsonArgument(flags.spec, "--spec")));
      return 0;
    case "delete":
      await client.deleteExperiment(named());
      print({ deleted: name }, () => `deleted experiment ${name}`);
      return 0;
    case "promote":
      show(await client.promoteExperiment(named(), flags.spec ? await jsonArgument(flags.spec, "--spec") : {}));
      return 0;
    case "rollback":
      show(await client.rollbackExperiment(named(), flags.spec ? await jsonArgument(flags.spec, "--spec") : {}));
      return 0;
    case "infer": {
      const inputs = await inputsFrom(null, null, args.slice(2), flags.input ?? []);
      const answer = await client.experimentInfer(named(), inputs, { arm: flags.arm });
      const written = await writeOutputs(answer.outputs, flags.out);
      print(answer, () => JSON.stringify({ ...answer, written }, null, 2));
      return 0;
    }
    default:
      throw new UsageError(`unknown experiment command '${sub ?? ""}' (ls, show, create, update, delete, promote, rollback, infer)`);
  }
}
