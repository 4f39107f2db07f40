// Request body limits for every route, by media type: bodies the framework parses (JSON of any spelling, forms) are
// read here under their bound, before parsing; raw uploads are read by the upload routes themselves under
// MAX_UPLOAD_BYTES, and V2 inference bodies (JSON, or JSON then binary tensors) by their route under MAX_TENSOR_BODY_BYTES.
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors";
import type { AppEnv } from "../env";
import { readBodyWithLimit } from "../store/body";
import { MAX_WHOLE_MODEL_BYTES } from "../store/tenant";

/**
 * Single-request model uploads: by default the smallest plan's body limit (Cloudflare Free and Pro: 100 MB), set by
 * MAX_UPLOAD_BYTES. Past BUFFERED_UPLOAD_BYTES (or with no Content-Length) the body streams to R2 and is never held.
 */
export const DEFAULT_MAX_UPLOAD_BYTES = 100 * 1000 * 1000;
export const BUFFERED_UPLOAD_BYTES = 8 * 1024 * 1024;

export function uploadLimit(env: { MAX_UPLOAD_BYTES?: string }): number {
  return Number(env.MAX_UPLOAD_BYTES ?? DEFAULT_MAX_UPLOAD_BYTES);
}

/** Uploads read whole to be parsed (datasets, trained variants): the upload limit, within what one request may hold. */
export function wholeUploadLimit(env: { MAX_UPLOAD_BYTES?: string }): number {
  return Math.min(uploadLimit(env), MAX_WHOLE_MODEL_BYTES);
}

/**
 * JSON bodies (recipes, inference tensors), bounded separately from model uploads: parsing JSON numbers and checking
 * them costs about 60 ms of CPU and 4-5x the body in memory per MiB in workerd, and a fresh isolate's heap grew by
 * up to 123 MiB for an 8 MiB body, so 4 MiB (about 200K numbers: a 224x224 RGB image) keeps one request within 1 s of
 * CPU and 64 MiB (docs/benchmarks.md#adversarial-requests). Larger tensors go as binary (V2, below).
 */
export const MAX_JSON_BYTES = 4 * 1024 * 1024;
/**
 * V2 inference bodies whose tensors are binary (read without parsing numbers); their JSON header is held to
 * MAX_JSON_BYTES. A body is held about four times while it is served: twice by the runtime that received it (a fresh
 * workerd grew by 60 MiB for a 31 MiB body it refused unread), once as the Worker read it, once copied into the engine's
 * memory. 12 MiB (3M floats; MobileNetV2 at batch 8 is 4.8 MB) keeps that within the 64 MiB one request may cost,
 * where 16 MiB did not (docs/benchmarks.md#adversarial-requests).
 */
export const MAX_TENSOR_BODY_BYTES = 12 * 1024 * 1024;
/** Forms carry a token at most (the dashboard's sign-in); anyone may post one, so the bound is small. */
export const MAX_FORM_BYTES = 16 * 1024;

/** Any JSON media type, matched case-insensitively: application/json, text/json, application/x+json, with parameters. */
const JSON_TYPE = /^[^;]*[/+]json\s*(;|$)/i;
const FORM_TYPE = /^\s*(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/i;

function limitFor(contentType: string | undefined): { maxSize: number; what: string; hint?: string } | null {
  if (!contentType) return null;
  if (JSON_TYPE.test(contentType)) return { maxSize: MAX_JSON_BYTES, what: "JSON body" };
  // curl's --data-binary labels bytes as a form unless told otherwise: say how an upload is sent.
  if (FORM_TYPE.test(contentType)) return { maxSize: MAX_FORM_BYTES, what: "form body", hint: " (a model's or dataset's bytes go as Content-Type: application/octet-stream)" };
  return null;
}

/**
 * Reads a JSON or form body under its bound before any route parses it: a declared Content-Length over the bound is
 * refused before reading, and a body that streams past it is refused at the first byte over, its rest left unread.
 */
export const bodyLimits: MiddlewareHandler<AppEnv> = async (c, next) => {
  const limit = limitFor(c.req.header("Content-Type"));
  if (!limit || !c.req.raw.body) return next();
  const declared = c.req.header("Content-Length");
  const tooLarge = () => new ApiError(413, "payload_too_large", `${limit.what} exceeds ${limit.maxSize} bytes${limit.hint ?? ""}`);
  const bytes = await readBodyWithLimit(c.req.raw.body, declared ? Number(declared) : undefined, limit.maxSize, tooLarge);
  c.req.raw = new Request(c.req.raw, { body: bytes });
  c.set("body", bytes);
  return next();
};
