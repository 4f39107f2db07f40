// The one typed API error: an HTTP status and a stable machine-readable code. The app's
// error handler turns it (and anything unknown, as a 500) into {error:{code,message}}.
import type { ContentfulStatusCode } from "hono/utils/http-status";

export type ErrorCode =
  | "unauthorized"
  | "not_found"
  | "invalid_model"
  | "invalid_input"
  | "invalid_recipe"
  | "invalid_request"
  | "payload_too_large"
  | "unsupported_model"
  | "conflict"
  | "invalid_dataset"
  | "target_not_met"
  | "nothing_to_compress"
  | "internal";

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

export const notFound = (what: string, id: string) => new ApiError(404, "not_found", `${what} '${id}' not found`);

export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}
