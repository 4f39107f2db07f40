// The one base class of the errors that the domain and the application throw: a stable machine-readable code and
// a message that names what is wrong. They know nothing of HTTP; the edge (worker/app.ts) maps each code to a status.
export type DomainCode =
  | "not_found"
  | "invalid_model"
  | "invalid_input"
  | "invalid_recipe"
  | "invalid_request"
  | "payload_too_large"
  | "unsupported_model"
  | "conflict"
  | "invalid_dataset"
  | "nothing_to_compress"
  | "variant_failed"
  | "too_large_to_serve"
  | "quota_exceeded";

export class DomainError extends Error {
  override name = "DomainError";
  constructor(
    readonly code: DomainCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const notFound = (what: string, id: string) => new DomainError("not_found", `${what} '${id}' not found`);
