// The typed slimserve client (fetch-based; runs in Node >= 20, browsers and Workers). Shared by the CLI, the
// dashboard (which hands it an in-process fetch) and the tests. Plain ESM with JSDoc types that tsc checks.

/**
 * The API's answers, typed from the Worker's zod response schemas (types only: at run time the client imports only the
 * shared JSON number encoding, formats/json-numbers.js).
 * @typedef {import("../worker/routes/schemas").JsonTensor} JsonTensor
 * @typedef {import("../worker/routes/schemas").TensorSignature} TensorSignature
 * @typedef {import("../worker/routes/schemas").EvalReport} EvalReport
 *   A variant's evaluation against FP32 on one dataset (accuracy in [0, 1], `drop` in percentage points).
 * @typedef {import("../worker/routes/schemas").VariantStages} VariantStages
 * @typedef {import("../worker/routes/schemas").VariantSummary} VariantSummary
 * @typedef {import("../worker/routes/schemas").Variant} Variant
 * @typedef {import("../worker/routes/schemas").ModelSummary} ModelSummary
 * @typedef {import("../worker/routes/schemas").Model} Model
 * @typedef {import("../worker/routes/datasets").Dataset} Dataset
 * @typedef {import("../worker/routes/experiments").Experiment} Experiment
 * @typedef {import("../worker/routes/usage").Usage} Usage
 *
 * @typedef {import("../worker/tune/outcome").TraceEntry} SearchTrial
 * @typedef {{ met: boolean, target: Record<string, number>, confidence: number, objective: string, variant: Variant | null, trace: SearchTrial[] }} SearchResult
 * @typedef {{ maxAccuracyDrop?: number, minAgreement?: number, minCosine?: number }} SearchTarget
 * @typedef {{ outputs: Record<string, JsonTensor>, model: string, variant: string | null, bits: number, engine: string, timeMs: number, [key: string]: unknown }} InferAnswer
 * @typedef {{ id: string, kind?: string, status: string, stage?: string, progress?: number, result?: unknown, error?: unknown }} Job
 * @typedef {{ job: Job } | { done: true, status: number, result: unknown }} JobAnswer
 *   What a job-backed POST answers: 202 with the job to follow, or (found, or finished within ?wait) its result.
 * @typedef {{ created: boolean, variant?: Variant, job?: Job }} CompressAnswer
 * @typedef {{ bits?: number | string, variant?: string }} ServingPick
 * @typedef {import("../worker/routes/uploads").Upload} Upload
 * @typedef {{ size: number, read: (offset: number, length: number) => Promise<Uint8Array> }} UploadSource
 *   What a model upload in parts reads: its size, and its bytes by range (a file read a part at a time, or bytes).
 * @typedef {{ uploadId: string, totalBytes: number, partBytes: number, parts: Record<string, string> }} UploadState
 *   An upload in parts so far: its id, its plan, and the etag of each part sent (by part number). Saved by the caller
 *   after every part (`onPart`), it resumes the upload after an interruption.
 * @typedef {{ partBytes?: number, resume?: UploadState, retries?: number,
 *   onPart?: (state: UploadState) => void | Promise<void>, onProgress?: (sent: number, total: number) => void }} UploadOptions
 *   How an upload in parts goes: the part size, the state to resume, retries per part, and what to call as it goes.
 */

import { decodeJsonNumber, decodeTensors } from "../formats/json-numbers.js";
import {
  HEADER_LENGTH_HEADER,
  binaryInferBody,
  datatypeEntry,
  decodeBinaryTensor,
  splitBinaryBody,
} from "../formats/inference-v2.js";

/**
 * A tensor for the V2 protocol in the API's words: `type` an element type (float32, int64, bool...), `dims` its shape,
 * `data` a typed array (sent as it is) or plain values.
 * @typedef {{ type: string, dims: number[], data: ArrayLike<number | bigint | boolean> }} V2Tensor
 * @typedef {{ type: string, dims: number[], data: import("../formats/inference-v2.js").TypedData | (number | boolean)[] | string[] }} V2OutputTensor
 * @typedef {{ model_name: string, model_version?: string, id?: string, parameters?: Record<string, unknown>, outputs: { name: string, datatype: string, shape: number[], data?: unknown[], parameters?: Record<string, unknown> }[] }} V2Response
 * @typedef {{ response: V2Response, outputs: Record<string, V2OutputTensor>, arm: string | null }} V2Answer
 *   The V2 response, its outputs decoded (binary ones as typed arrays), and the experiment arm that answered (if any).
 */

/**
 * An inference answer with its outputs' "NaN", "Infinity" and "-Infinity" strings turned back into numbers.
 * @param {unknown} body @returns {InferAnswer}
 */
function decodeAnswer(body) {
  const answer = /** @type {InferAnswer & { outputs: Record<string, import("../formats/json-numbers.js").EncodedTensor> }} */ (body);
  return { ...answer, outputs: /** @type {Record<string, JsonTensor>} */ (decodeTensors(answer.outputs)) };
}

/** An API answer other than 2xx: the status and the API's stable error code. */
export class SlimserveError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.name = "SlimserveError";
    this.status = status;
    this.code = code;
  }
}

/** @type {Record<number, string>} */
const V2_ERROR_CODES = { 400: "invalid_request", 401: "unauthorized", 404: "not_found", 413: "payload_too_large", 422: "unsupported_model" };

/** Job states after which polling stops. */
const RUNNING_STATES = new Set(["queued", "pending", "running"]);
export const isJobRunning = (/** @type {Job} */ job) => RUNNING_STATES.has(job.status);

/**
 * A 202 from variant creation carries the job, either bare or as `{ job }`.
 * @param {unknown} body
 * @returns {Job}
 */
function jobFrom(body) {
  const b = /** @type {Record<string, unknown>} */ (body);
  const job = b && typeof b.job === "object" && b.job !== null ? b.job : b;
  return /** @type {Job} */ (job);
}

/** Parts of 16 MiB: well within every plan's body limit, and few enough requests for a 2 GB model (128). */
export const DEFAULT_PART_BYTES = 16 * 1024 * 1024;

/** Tries of an idempotent request that meets 503 (an isolate restarted mid-request, an overloaded edge). */
export const RETRIES_ON_503 = 2;

/**
 * Milliseconds before retry `attempt` (1-based): the answer's Retry-After in seconds where given (at most 5), else
 * 250 ms doubling.
 * @param {number} attempt @param {string | null} retryAfter
 */
function retryDelay(attempt, retryAfter) {
  const seconds = Number(retryAfter);
  return retryAfter && Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 5) * 1000 : 250 * 2 ** (attempt - 1);
}

/**
 * Milliseconds a GET or HEAD waits for its answer's headers before it is given up and counted as a 503 (sent again
 * within RETRIES_ON_503): `wrangler dev` holds a GET that met a busy isolate and replays it minutes later.
 */
export const HEADERS_TIMEOUT_MS = 60_000;

export class SlimserveClient {
  /**
   * @param {{ baseUrl: string, token?: string, fetch?: (input: Request) => Promise<Response>, headersTimeoutMs?: number }} options
   */
  constructor(options) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.token = options.token;
    this.fetchImpl = options.fetch ?? ((/** @type {Request} */ req) => fetch(req));
    this.headersTimeoutMs = options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  }

  /**
   * One try. A GET or HEAD whose headers do not come within headersTimeoutMs is aborted and answered 503 here (the
   * body, once headers came, streams without a limit). Where `retryable`, a connection that fails before an answer
   * (reset, or closed while the body was being sent: `wrangler dev` drops requests that wait behind a busy isolate)
   * is answered 503 here too; otherwise, and for a refused connection or an unknown host, its error reaches the caller.
   * @param {URL} url @param {string} method @param {Record<string, string>} headers @param {BodyInit | undefined} body
   * @param {boolean} retryable
   * @returns {Promise<Response>}
   */
  async attempt(url, method, headers, body, retryable) {
    const unavailable = (/** @type {string} */ code, /** @type {string} */ message) =>
      new Response(JSON.stringify({ error: { code, message } }), { status: 503, headers: { "Content-Type": "application/json" } });
    const lost = (/** @type {unknown} */ err) => {
      // A server that refuses the connection, or a name that does not resolve, is not coming back within a retry.
      const code = err instanceof Error ? /** @type {{ code?: string } | undefined} */ (err.cause)?.code : undefined;
      if (!retryable || code === "ECONNREFUSED" || code === "ENOTFOUND") throw err;
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
      return unavailable("connection_lost", `the connection failed before an answer (${err instanceof Error ? err.message : String(err)}${cause})`);
    };
    if (method !== "GET" && method !== "HEAD") return this.fetchImpl(new Request(url, { method, headers, body })).catch(lost);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.headersTimeoutMs);
    try {
      return await this.fetchImpl(new Request(url, { method, headers, signal: controller.signal }));
    } catch (err) {
      if (!controller.signal.aborted) return lost(err);
      return unavailable("timeout", `no answer within ${this.headersTimeoutMs} ms`);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * @param {string} method
   * @param {string} path
   * GET and HEAD, and requests marked `idempotent` (content-addressed uploads: the same bytes give the same record),
   * are sent again on a 503, up to RETRIES_ON_503 times; a GET or HEAD without headers within headersTimeoutMs, and a
   * connection of theirs that fails before an answer, count as one.
   * @param {{ query?: Record<string, string | number | undefined>, json?: unknown, bytes?: Uint8Array, accept?: string, headers?: Record<string, string>, idempotent?: boolean }} [options]
   * @returns {Promise<Response>}
   */
  async send(method, path, options = {}) {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    /** @type {Record<string, string>} */
    const headers = { ...options.headers, Accept: options.accept ?? "application/json" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    /** @type {BodyInit | undefined} */
    let body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.bytes) {
      headers["Content-Type"] = "application/octet-stream";
      body = options.bytes;
    }
    const retries = options.idempotent || method === "GET" || method === "HEAD" ? RETRIES_ON_503 : 0;
    let res = await this.attempt(url, method, headers, body, retries > 0);
    for (let attempt = 1; res.status === 503 && attempt <= retries; attempt++) {
      await res.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, retryDelay(attempt, res.headers.get("Retry-After"))));
      res = await this.attempt(url, method, headers, body, true);
    }
    if (!res.ok) {
      const text = await res.text();
      let code = "http_error";
      let message = text || res.statusText;
      try {
        const parsed = JSON.parse(text);
        // /v2 answers {"error": "<message>"} (the protocol's shape): the status gives the code.
        if (parsed && typeof parsed.error === "string") {
          message = parsed.error;
          code = V2_ERROR_CODES[res.status] ?? code;
        } else if (parsed && parsed.error) ({ code, message } = parsed.error);
      } catch {
        // not JSON: keep the text
      }
      throw new SlimserveError(res.status, code, `${method} ${path}: ${res.status} ${code}: ${message}`);
    }
    return res;
  }

  /**
   * @template T
   * @param {string} method
   * @param {string} path
   * @param {{ query?: Record<string, string | number | undefined>, json?: unknown, bytes?: Uint8Array, idempotent?: boolean }} [options]
   * @returns {Promise<T>}
   */
  async json(method, path, options) {
    const res = await this.send(method, path, options);
    return res.status === 204 ? /** @type {T} */ (undefined) : /** @type {Promise<T>} */ (res.json());
  }

  /** @param {string} path @returns {Promise<Uint8Array>} */
  async bytes(path) {
    const res = await this.send("GET", path, { accept: "application/x-protobuf" });
    return new Uint8Array(await res.arrayBuffer());
  }

  /** @returns {Promise<{ status: string }>} */
  health() {
    return this.json("GET", "/v1/health");
  }

  /**
   * Every item of a paginated listing: follows each page's `cursor` until the last page (which has none).
   * @template T
   * @param {string} path
   * @param {string} field
   * @returns {Promise<T[]>}
   */
  async all(path, field) {
    /** @type {T[]} */
    const items = [];
    /** @type {string | undefined} */
    let cursor;
    do {
      const page = /** @type {Record<string, unknown> & { cursor?: string }} */ (await this.json("GET", path, { query: { cursor } }));
      items.push(...(/** @type {T[]} */ (page[field] ?? [])));
      cursor = page.cursor;
    } while (cursor);
    return items;
  }

  /** @returns {Promise<ModelSummary[]>} */
  listModels() {
    return this.all("/v1/models", "models");
  }

  /** A model's variant summaries. @param {string} id @returns {Promise<VariantSummary[]>} */
  listVariants(id) {
    return this.all(`/v1/models/${encodeURIComponent(id)}/variants`, "variants");
  }

  /** The tenant's usage against each quota. @returns {Promise<Usage>} */
  usage() {
    return this.json("GET", "/v1/usage");
  }

  /**
   * Uploads a model in one request. A model saved with external data names its files' uploads (`uploadExternalData`)
   * in `externalData`.
   * @param {Uint8Array} bytes @param {{ name?: string, externalData?: string[] }} [options] @returns {Promise<Model>}
   */
  uploadModel(bytes, options = {}) {
    const externalData = options.externalData?.length ? options.externalData.join(",") : undefined;
    // Not sent again after a 503 when it names files: a first try that stored the model consumed them.
    return this.json("POST", "/v1/models", { bytes, query: { name: options.name, externalData }, idempotent: externalData === undefined });
  }

  /**
   * Uploads a model in parts (/v1/uploads), never holding more than one part: plans it (or resumes `options.resume`
   * while the server still has it), sends each part not yet sent, trying a failed part again up to `retries` times,
   * then completes it. `onPart` gets the state after every part, to save for a resume; `onProgress` the bytes sent.
   * A model saved with external data names its files' uploads (`uploadExternalData`) in `externalData`.
   * @param {UploadSource} source
   * @param {UploadOptions & { name?: string, externalData?: string[] }} [options]
   * @returns {Promise<Model>}
   */
  uploadModelInParts(source, options = {}) {
    const plan = { name: options.name, ...(options.externalData?.length ? { externalData: options.externalData } : {}) };
    return /** @type {Promise<Model>} */ (this.#inParts(source, plan, options));
  }

  /**
   * Uploads a file of external data in parts, as `uploadModelInParts` uploads a model (resumable the same way), with
   * the location the model's tensors name it by (such as `model.onnx.data`). The answer is the complete upload, whose
   * id the model's upload names; it waits for that model until it expires.
   * @param {UploadSource} source @param {string} location @param {UploadOptions} [options] @returns {Promise<Upload>}
   */
  uploadExternalData(source, location, options = {}) {
    return /** @type {Promise<Upload>} */ (this.#inParts(source, { location }, options));
  }

  /**
   * @param {UploadSource} source @param {Record<string, unknown>} plan what the plan adds to the sizes
   * @param {UploadOptions} options @returns {Promise<unknown>}
   */
  async #inParts(source, plan, options) {
    const partBytes = options.partBytes ?? DEFAULT_PART_BYTES;
    let state = options.resume;
    if (state && state.totalBytes === source.size) {
      const alive = await this.send("GET", `/v1/uploads/${encodeURIComponent(state.uploadId)}`).then(() => true, (err) => {
        if (err instanceof SlimserveError && err.status === 404) return false;
        throw err;
      });
      if (!alive) state = undefined;
    } else state = undefined;
    if (!state) {
      /** @type {Upload} */
      const upload = await this.json("POST", "/v1/uploads", { json: { totalBytes: source.size, partBytes, ...plan } });
      state = { uploadId: upload.id, totalBytes: upload.totalBytes, partBytes: upload.partBytes, parts: {} };
      await options.onPart?.(state);
    }
    const current = state;
    const count = Math.max(1, Math.ceil(current.totalBytes / current.partBytes));
    const sizeOf = (/** @type {number} */ n) => Math.min(current.partBytes, current.totalBytes - (n - 1) * current.partBytes);
    let sent = 0;
    for (let n = 1; n <= count; n++) if (current.parts[n]) sent += sizeOf(n);
    options.onProgress?.(sent, current.totalBytes);
    for (let n = 1; n <= count; n++) {
      if (current.parts[n]) continue;
      const bytes = await source.read((n - 1) * current.partBytes, sizeOf(n));
      for (let attempt = 0; ; attempt++) {
        try {
          /** @type {{ etag: string }} */
          const part = await this.json("PUT", `/v1/uploads/${encodeURIComponent(current.uploadId)}/parts/${n}`, { bytes });
          current.parts[n] = part.etag;
          break;
        } catch (err) {
          // A part refused for what it is (its size, an unknown upload) is not sent again; a dropped one is.
          const fatal = err instanceof SlimserveError && err.status < 500 && !/was not stored/.test(err.message);
          if (fatal || attempt >= (options.retries ?? 3)) throw err;
        }
      }
      sent += bytes.byteLength;
      await options.onPart?.(current);
      options.onProgress?.(sent, current.totalBytes);
    }
    const parts = Object.entries(current.parts).map(([n, etag]) => ({ partNumber: Number(n), etag }));
    return this.json("POST", `/v1/uploads/${encodeURIComponent(current.uploadId)}/complete`, { json: { parts } });
  }

  /** Aborts an upload in parts: its parts are dropped. @param {string} uploadId @returns {Promise<void>} */
  abortUpload(uploadId) {
    return this.json("DELETE", `/v1/uploads/${encodeURIComponent(uploadId)}`);
  }

  /** @param {string} id @returns {Promise<Model>} */
  getModel(id) {
    return this.json("GET", `/v1/models/${encodeURIComponent(id)}`);
  }

  /** @param {string} id @returns {Promise<void>} */
  deleteModel(id) {
    return this.json("DELETE", `/v1/models/${encodeURIComponent(id)}`);
  }

  /** @param {string} id */
  downloadModel(id) {
    return this.bytes(`/v1/models/${encodeURIComponent(id)}/onnx`);
  }

  /**
   * Makes (or finds) a variant. 201/200 answer the variant; 202 answers a job to poll.
   * @param {string} modelId @param {unknown} recipe @returns {Promise<CompressAnswer>}
   */
  async compress(modelId, recipe) {
    // Idempotent: a variant is addressed by its model and recipe, and a job by its request's hash, so a request sent
    // again finds (or joins) what the first made.
    const res = await this.send("POST", `/v1/models/${encodeURIComponent(modelId)}/variants`, { json: recipe, idempotent: true });
    const body = await res.json();
    if (res.status === 202) return { created: true, job: jobFrom(body) };
    return { created: res.status === 201, variant: /** @type {Variant} */ (body) };
  }

  /**
   * POSTs a request that the server may run as a job (202 + job) or answer at once (200/201 + result); sent again on
   * a 503 (the job's id is the request's hash: the same job is joined).
   * @param {string} path @param {unknown} body @returns {Promise<JobAnswer>}
   */
  async submit(path, body) {
    const res = await this.send("POST", path, { json: body, idempotent: true });
    const answer = await res.json();
    if (res.status === 202) return { job: jobFrom(answer) };
    return { done: true, status: res.status, result: answer };
  }

  /**
   * Evaluates a stored variant against FP32 on a dataset (a job); its report lands in the variant's `eval`.
   * @param {string} modelId @param {string} variantId @param {string} dataset @returns {Promise<JobAnswer>}
   */
  evaluateVariant(modelId, variantId, dataset) {
    return this.submit(`/v1/models/${encodeURIComponent(modelId)}/variants/${encodeURIComponent(variantId)}/evaluate`, { dataset });
  }

  /**
   * Accuracy-targeted search (a job): the smallest (or fastest) variant that meets the target on the dataset.
   * @param {string} modelId @param {{ target: SearchTarget, dataset: string, objective?: "smallest" | "fastest", samples?: number }} request
   * @returns {Promise<JobAnswer>}
   */
  search(modelId, request) {
    return this.submit(`/v1/models/${encodeURIComponent(modelId)}/variants`, request);
  }

  /** @param {string} modelId @param {string} variantId @returns {Promise<Variant>} */
  getVariant(modelId, variantId) {
    return this.json("GET", `/v1/models/${encodeURIComponent(modelId)}/variants/${encodeURIComponent(variantId)}`);
  }

  /** @param {string} modelId @param {string} variantId */
  downloadVariant(modelId, variantId) {
    return this.bytes(`/v1/models/${encodeURIComponent(modelId)}/variants/${encodeURIComponent(variantId)}/onnx`);
  }

  /**
   * @param {string} modelId @param {Record<string, JsonTensor>} inputs @param {ServingPick} [pick]
   * @returns {Promise<InferAnswer>}
   */
  async infer(modelId, inputs, pick = {}) {
    const query = { bits: pick.bits === undefined ? undefined : String(pick.bits), variant: pick.variant };
    return decodeAnswer(await this.json("POST", `/v1/models/${encodeURIComponent(modelId)}/infer`, { query, json: { inputs } }));
  }

  /** A .npz or .npy file's bytes. @param {Uint8Array} bytes @param {{ name?: string }} [options] @returns {Promise<Dataset>} */
  uploadDataset(bytes, options = {}) {
    return this.json("POST", "/v1/datasets", { bytes, query: { name: options.name }, idempotent: true });
  }

  /** @returns {Promise<Dataset[]>} */
  listDatasets() {
    return this.all("/v1/datasets", "datasets");
  }

  /** @param {string} id @returns {Promise<Dataset>} */
  getDataset(id) {
    return this.json("GET", `/v1/datasets/${encodeURIComponent(id)}`);
  }

  /** @param {string} id @returns {Promise<void>} */
  deleteDataset(id) {
    return this.json("DELETE", `/v1/datasets/${encodeURIComponent(id)}`);
  }

  /** @param {string} id @returns {Promise<Job>} */
  getJob(id) {
    return this.json("GET", `/v1/jobs/${encodeURIComponent(id)}`);
  }

  /**
   * Polls a job until it leaves the running states.
   * @param {string} id
   * @param {{ intervalMs?: number, onProgress?: (job: Job) => void }} [options]
   * @returns {Promise<Job>}
   */
  async waitForJob(id, options = {}) {
    for (;;) {
      const job = await this.getJob(id);
      options.onProgress?.(job);
      if (!isJobRunning(job)) return job;
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 1000));
    }
  }

  /** @returns {Promise<Experiment[]>} */
  listExperiments() {
    return this.all("/v1/experiments", "experiments");
  }

  /** @param {unknown} spec @returns {Promise<Experiment>} */
  createExperiment(spec) {
    return this.json("POST", "/v1/experiments", { json: spec });
  }

  /** @param {string} name @returns {Promise<Experiment>} */
  getExperiment(name) {
    return this.json("GET", `/v1/experiments/${encodeURIComponent(name)}`);
  }

  /** @param {string} name @param {unknown} patch @returns {Promise<Experiment>} */
  updateExperiment(name, patch) {
    return this.json("PATCH", `/v1/experiments/${encodeURIComponent(name)}`, { json: patch });
  }

  /** @param {string} name @returns {Promise<void>} */
  deleteExperiment(name) {
    return this.json("DELETE", `/v1/experiments/${encodeURIComponent(name)}`);
  }

  /** @param {string} name @param {unknown} [body] @returns {Promise<Experiment>} */
  promoteExperiment(name, body = {}) {
    return this.json("POST", `/v1/experiments/${encodeURIComponent(name)}/promote`, { json: body });
  }

  /** @param {string} name @param {unknown} [body] @returns {Promise<Experiment>} */
  rollbackExperiment(name, body = {}) {
    return this.json("POST", `/v1/experiments/${encodeURIComponent(name)}/rollback`, { json: body });
  }

  /**
   * Inference through an experiment; `arm` is the x-slimserve-arm token of an earlier answer (stay on that arm).
   * @param {string} name @param {Record<string, JsonTensor>} inputs @param {{ arm?: string }} [options]
   * @returns {Promise<InferAnswer>}
   */
  async experimentInfer(name, inputs, options = {}) {
    const headers = options.arm ? { "x-slimserve-arm": options.arm } : undefined;
    const res = await this.send("POST", `/v1/experiments/${encodeURIComponent(name)}/infer`, { json: { inputs }, headers });
    return decodeAnswer(await res.json());
  }

  /**
   * The V2 (Open Inference Protocol) metadata of a model, variant, experiment or named model.
   * @param {string} model @returns {Promise<{ name: string, versions: string[], platform: string, inputs: { name: string, datatype: string, shape: number[] }[], outputs: { name: string, datatype: string, shape: number[] }[] }>}
   */
  v2Metadata(model) {
    return this.json("GET", `/v2/models/${encodeURIComponent(model)}`);
  }

  /**
   * Inference over V2 with the binary tensor data extension: every input travels as binary after the JSON header,
   * and (unless `binary: false`) every output comes back as binary, decoded into typed arrays. `model` is a model id,
   * a variant id, an experiment's name or a model's name; `version` a variant id or a bit-width; `arm` an
   * experiment's x-slimserve-arm token.
   * @param {string} model @param {Record<string, V2Tensor>} inputs
   * @param {{ version?: string | number, binary?: boolean, outputs?: string[], arm?: string }} [options]
   * @returns {Promise<V2Answer>}
   */
  async inferV2(model, inputs, options = {}) {
    const binary = options.binary ?? true;
    const { body, headerLength } = binaryInferBody(inputs, {
      ...(options.outputs ? { outputs: options.outputs.map((name) => ({ name, parameters: { binary_data: binary } })) } : {}),
      parameters: { binary_data_output: binary },
    });
    const version = options.version === undefined ? "" : `/versions/${encodeURIComponent(String(options.version))}`;
    /** @type {Record<string, string>} */
    const headers = { [HEADER_LENGTH_HEADER]: String(headerLength) };
    if (options.arm) headers["x-slimserve-arm"] = options.arm;
    const res = await this.send("POST", `/v2/models/${encodeURIComponent(model)}${version}/infer`, { bytes: body, headers });
    const arm = res.headers.get("x-slimserve-arm");
    const bytes = new Uint8Array(await res.arrayBuffer());
    const length = res.headers.get(HEADER_LENGTH_HEADER);
    const split = length === null ? { header: JSON.parse(new TextDecoder().decode(bytes)), binary: new Uint8Array() } : splitBinaryBody(bytes, Number(length));
    const response = /** @type {V2Response} */ (split.header);
    return { response, outputs: decodeV2Outputs(response, split.binary), arm };
  }

  /** The tenant's experiment metrics in Prometheus text (GET /v1/metrics). @returns {Promise<string>} */
  async metricsText() {
    return (await this.send("GET", "/v1/metrics", { accept: "text/plain" })).text();
  }
}

/**
 * A V2 response's outputs in the API's words: binary ones as typed arrays read from `binary` in order, JSON ones with
 * "NaN"/"Infinity" strings turned back into numbers.
 * @param {V2Response} response @param {Uint8Array} binary @returns {Record<string, V2OutputTensor>}
 */
export function decodeV2Outputs(response, binary) {
  /** @type {Record<string, V2OutputTensor>} */
  const out = {};
  let at = 0;
  for (const o of response.outputs) {
    const type = datatypeEntry(o.datatype)?.type ?? o.datatype.toLowerCase();
    const size = o.parameters?.binary_data_size;
    if (typeof size === "number") {
      const count = o.shape.reduce((a, b) => a * b, 1);
      out[o.name] = { type, dims: o.shape, data: decodeBinaryTensor(o.name, o.datatype, count, binary.subarray(at, at + size)) };
      at += size;
    } else {
      out[o.name] = { type, dims: o.shape, data: (o.data ?? []).map((v) => decodeJsonNumber(/** @type {number | boolean | string} */ (v))) };
    }
  }
  return out;
}
