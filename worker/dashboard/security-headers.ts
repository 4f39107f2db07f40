// Security headers on every HTML page (dashboard, sign-in, /docs, error pages): no framing, no MIME sniffing, no
// referrer, and a CSP that allows only this origin plus the pages' own inline style and the one known inline script.
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { JOB_SCRIPT } from "./pages";

async function scriptHash(script: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(script)));
  return `'sha256-${btoa(String.fromCharCode(...digest))}'`;
}

/** Built once per isolate: the job page's script is allowed by its hash, so no other inline script can run. */
let policy: Promise<string> | undefined;
export function contentSecurityPolicy(): Promise<string> {
  policy ??= scriptHash(JOB_SCRIPT).then((hash) =>
    [
      "default-src 'none'",
      `script-src ${hash}`,
      "style-src 'unsafe-inline'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "form-action 'self'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
  );
  return policy;
}

export const htmlSecurityHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (!c.res.headers.get("Content-Type")?.toLowerCase().startsWith("text/html")) return;
  c.res.headers.set("Content-Security-Policy", await contentSecurityPolicy());
  c.res.headers.set("X-Content-Type-Options", "nosniff");
  c.res.headers.set("Referrer-Policy", "no-referrer");
};
