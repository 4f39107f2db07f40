// The edge's errors: ApiError (an HTTP status and a stable machine-readable code, for what only the edge refuses:
// tokens, request validation) and the one table that gives each domain error's code its HTTP status. The app's
// error handler (worker/app.ts) turns both (and anything unknown, as a 500) into {error:{code,message}}.
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { DomainCode } from "./domain-error";

export type ErrorCode = DomainCode | "unauthorized" | "target_not_met" | "internal" | "rate_limited";

/** The HTTP status of each domain error code. */
export const DOMAIN_STATUS: Record<DomainCode, ContentfulStatusCode> = {
  not_found: 404,
  invalid_model: 400,
  invalid_input: 400,
  invalid_recipe: 400,
  invalid_request: 400,
  invalid_dataset: 400,
  payload_too_large: 413,
  unsupported_model: 422,
  conflict: 409,
  nothing_to_compress: 422,
  variant_failed: 422,
  too_large_to_serve: 422,
  // 403 for a stored-things quota; a QuotaExceeded that frees itself (running jobs) answers 429 (worker/app.ts).
  quota_exceeded: 403,
};

/** The status of an error code recorded elsewhere (a failed job's): the table's, else 500. */
export function statusOfCode(code: string): ContentfulStatusCode {
  return (DOMAIN_STATUS as Record<string, ContentfulStatusCode>)[code] ?? 500;
}

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ApiError";
  }
}

export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}
