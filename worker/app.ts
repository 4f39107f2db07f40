// The app factory: OpenAPIHono with the one validation hook and the one error handler, which maps domain errors
// (worker/domain-error.ts) to HTTP statuses here and nowhere else.
import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import { DomainError } from "./domain-error";
import { QuotaExceeded } from "./limits";
import { ApiError, DOMAIN_STATUS, errorBody, type ErrorCode } from "./errors";
import type { AppEnv } from "./env";

/** "inputs.x.dims[0]: expected number" — the first issue, with its path, is what the caller needs. */
export function describeZodError(error: ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? `${i.path.map(String).join(".")}: ` : ""}${i.message}`)
    .join("; ");
}

export function createRouter(invalidCode: ErrorCode = "invalid_request") {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw new ApiError(400, invalidCode, describeZodError(result.error as ZodError));
    },
  });
}

/** Any error as the status, code and message an answer carries; unknown ones are logged and become a 500. */
export function describeError(err: Error): { status: ContentfulStatusCode; code: ErrorCode; message: string } {
  if (err instanceof QuotaExceeded) return { status: err.retryable ? 429 : DOMAIN_STATUS[err.code], code: err.code, message: err.message };
  if (err instanceof DomainError) return { status: DOMAIN_STATUS[err.code], code: err.code, message: err.message };
  if (err instanceof ApiError) return { status: err.status, code: err.code, message: err.message };
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const code: ErrorCode = status === 413 ? "payload_too_large" : status === 401 ? "unauthorized" : "invalid_request";
    return { status, code, message: err.message || "bad request" };
  }
  console.error("unhandled error", err);
  return { status: 500, code: "internal", message: "internal error" };
}

export function handleError(err: Error, c: { json: (body: unknown, status: number) => Response }): Response {
  const { status, code, message } = describeError(err);
  // A quota answer also names the limit, its maximum and the usage, for clients to act on.
  if (err instanceof QuotaExceeded) return c.json({ error: { code, message, limit: err.limit, max: err.max, usage: err.usage } }, status);
  return c.json(errorBody(code, message), status);
}

/** The Open Inference Protocol's error shape, {"error": "<message>"}, with the same statuses as /v1. */
export function handleV2Error(err: Error, c: { json: (body: unknown, status: number) => Response }): Response {
  const { status, message } = describeError(err);
  return c.json({ error: message }, status);
}
