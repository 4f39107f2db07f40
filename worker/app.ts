// The app factory: OpenAPIHono with the one validation hook and the one error handler, which maps domain errors
// (worker/domain-error.ts) to HTTP statuses here and nowhere else.
import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
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

export function handleError(err: Error, c: { json: (body: unknown, status: number) => Response }): Response {
  if (err instanceof QuotaExceeded) {
    const body = { error: { code: err.code, message: err.message, limit: err.limit, max: err.max, usage: err.usage } };
    return c.json(body, err.retryable ? 429 : DOMAIN_STATUS[err.code]);
  }
  if (err instanceof DomainError) return c.json(errorBody(err.code, err.message), DOMAIN_STATUS[err.code]);
  if (err instanceof ApiError) return c.json(errorBody(err.code, err.message), err.status);
  if (err instanceof HTTPException) {
    const status = err.status;
    const code: ErrorCode = status === 413 ? "payload_too_large" : status === 401 ? "unauthorized" : "invalid_request";
    return c.json(errorBody(code, err.message || "bad request"), status);
  }
  console.error("unhandled error", err);
  return c.json(errorBody("internal", "internal error"), 500);
}
