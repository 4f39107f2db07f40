// The `slimserve` command line: parses arguments, resolves settings, calls the typed client, prints tables or JSON.
import { readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { SlimserveClient, SlimserveError, isJobRunning } from "../client/slimserve.js";
import { resolveSettings, writeConfig } from "./config.js";
import { fixed, formatBytes, formatTable, progressLine } from "./format.js";
import { NpyError, decodeNpy, encodeNpy, npyToTensor, tensorToNpy } from "./npy.js";

export const USAGE = `slimserve — compress ONNX models and serve them at the edge

Usage: slimserve <command> [arguments] [--url URL] [--token TOKEN] [--json]

  login                               check --url/--token and save them to the config file
  upload <model.onnx> [--name NAME]   upload a model
  ls                                  list models
  show <model> [<variant>]            a model and its variants, or one variant's record
  compress <model> --bits N | --recipe JSON|@file.json
                                      make a variant (waits for its job, with a progress bar)
  jobs <job-id> [--wait]              a job's state (with --wait: until it ends)
  infer <model> <x.npy> | --input NAME=x.npy ... [--bits N | --variant ID] [--out DIR]
                                      run inference; --out writes one <output>.npy per output
  download <model> [<variant>] [-o FILE]
  rm <model>                          delete a model and its variants
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
  out: { type: "string" },
  output: { type: "string", short: "o" },
  wait: { type: "boolean", default: false },
  spec: { type: "string" },
  arm: { type: "string" },
});

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
          const line = progressLine(j);
          if (io.stderr.isTTY) io.stderr.write(`\r${line}`);
          else if (line !== last) err(line);
          last = line;
        },
      });
      if (io.stderr.isTTY && !flags.json) io.stderr.write("\n");
      return job;
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
        const model = await client.uploadModel(new Uint8Array(await readFile(file)), { name: flags.name ?? basename(file).replace(/\.onnx$/i, "") });
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
            ["VARIANT", "BITS", "SIZE", "RATIO", "ACC Δ", "AGREE", "LATENCY", "ENGINE"],
            variants.map((v) => {
              const e = v.eval ?? {};
              const latency = typeof e.latencyMs === "object" ? e.latencyMs?.p50 ?? e.latencyMs?.mean : e.latencyMs;
              return [v.id, String(v.bits), formatBytes(v.bytes), `${fixed(v.compressionRatio)}x`, fixed(e.accuracyDelta, 4), fixed(e.agreement, 4), latency === undefined ? "—" : `${fixed(latency)} ms`, v.engine ?? "—"];
            }),
            new Set([1, 2, 3, 4, 5, 6]),
          );
          return [...head, "", table].join("\n");
        });
        return 0;
      }
      case "compress": {
        const modelId = need(args, 0, "model id");
        let recipe;
        if (flags.recipe) recipe = await jsonArgument(flags.recipe, "--recipe");
        else if (flags.bits) recipe = { quantize: { bits: Number(flags.bits) } };
        else throw new UsageError("compress needs --bits N or --recipe JSON|@file.json");
        const answer = await client.compress(modelId, recipe);
        let variant = answer.variant;
        if (answer.job) {
          const job = await follow(answer.job.id);
          if (job.status !== "succeeded" && job.status !== "done") {
            print(job, () => `job ${job.id} ${job.status}: ${JSON.stringify(job.error ?? null)}`);
            return 1;
          }
          const result = /** @type {{ id?: string, variantId?: string, variant?: { id: string } }} */ (job.result ?? {});
          const vid = result.variantId ?? result.variant?.id ?? result.id;
          if (!vid) {
            print(job, () => JSON.stringify(job, null, 2));
            return 0;
          }
          variant = await client.getVariant(modelId, vid);
        }
        if (!variant) throw new Error("the server answered neither a variant nor a job");
        const v = variant;
        print(v, () => `${answer.created ? "made" : "found"} variant ${v.id}: ${v.bits} bits, ${formatBytes(v.bytes)} (${fixed(v.compressionRatio)}x smaller)`);
        return 0;
      }
      case "jobs": {
        const id = need(args, 0, "job id");
        const job = flags.wait ? await follow(id) : await client.getJob(id);
        print(job, () => `${job.id}  ${job.status}  ${progressLine(job)}${job.error ? `\n${JSON.stringify(job.error)}` : ""}`);
        return isJobRunning(job) || job.status === "succeeded" || job.status === "done" ? 0 : 1;
      }
      case "infer": {
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
    const cause = /** @type {{ cause?: { code?: string } }} */ (e).cause;
    if (cause?.code === "ECONNREFUSED") {
      err(`slimserve: cannot reach the server (${/** @type {Error} */ (e).message}); check --url or SLIMSERVE_URL`);
      return 1;
    }
    throw e;
  }
}

/** @param {(number | boolean)[]} data */
const preview = (data) => `[${data.slice(0, 6).map((v) => (typeof v === "number" ? Number(v.toPrecision(5)) : v)).join(", ")}${data.length > 6 ? ", …" : ""}]`;

/**
 * @param {Record<string, { type: string, dims: number[], data: (number | boolean)[] }>} outputs
 * @param {string | undefined} dir
 * @returns {Promise<Record<string, string>>}
 */
async function writeOutputs(outputs, dir) {
  /** @type {Record<string, string>} */
  const written = {};
  if (!dir) return written;
  for (const [name, tensor] of Object.entries(outputs)) {
    const file = join(dir, `${name.replace(/[^A-Za-z0-9._-]/g, "_")}.npy`);
    await writeFile(file, encodeNpy(tensorToNpy(tensor)));
    written[name] = file;
  }
  return written;
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
