// Request body limits for every route, by media type: bodies the framework parses (JSON of any spelling, forms) are
// bounded here, before parsing; raw uploads are read by the upload routes themselves under MAX_UPLOAD_BYTES.
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "../errors";
import type { AppEnv } from "../env";

/** JSON bodies (recipes, inference tensors) are bounded separately from model uploads. */
export const MAX_JSON_BYTES = 32 * 1024 * 1024;
/** Forms carry a token at most (the dashboard's sign-in); anyone may post one, so the bound is small. */
export const MAX_FORM_BYTES = 16 * 1024;

/** Any JSON media type, matched case-insensitively: application/json, text/json, application/x+json, with parameters. */
const JSON_TYPE = /^[^;]*[/+]json\s*(;|$)/i;
const FORM_TYPE = /^\s*(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/i;

function limitFor(contentType: string | undefined): { maxSize: number; what: string } | null {
  if (!contentType) return null;
  if (JSON_TYPE.test(contentType)) return { maxSize: MAX_JSON_BYTES, what: "JSON body" };
  if (FORM_TYPE.test(contentType)) return { maxSize: MAX_FORM_BYTES, what: "form body" };
  return null;
}

export const bodyLimits: MiddlewareHandler<AppEnv> = async (c, next) => {
  const limit = limitFor(c.req.header("Content-Type"));
  if (!limit) return next();
  return bodyLimit({
    maxSize: limit.maxSize,
    onError: () => {
      throw new ApiError(413, "payload_too_large", `${limit.what} exceeds ${limit.maxSize} bytes`);
    },
  })(c, next);
};
