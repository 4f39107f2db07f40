// The Server-Timing header of an inference answer (W3C Server Timing syntax): whether the session was cached, and
// where the request's time went: parsing and validating the body, resolving the variant, loading the session (when
// this request had to wait for a load), running it, serializing the answer, compressing it, and the total since the
// request arrived. A JSON answer is gzipped here, inside the total, when the client accepts gzip: left to the runtime
// or the edge, compression happens after the answer leaves the handler, and a client of a large answer (a sequence
// model's 1 MB of decimals: 30-40 ms of gzip) waits far longer than any timing the answer can report.
import type { SessionCacheOutcome } from "./sessions";

export interface ServingTiming {
  cache: SessionCacheOutcome;
  /** Reading, decoding and creating the session (ms); null when the session was cached. */
  loadMs: number | null;
  runMs: number;
  /** Checking the inputs against the model's signature. */
  validateMs?: number;
  /** Finding the variant (and model record) that serves the request. */
  resolveMs?: number;
  /** Turning the outputs into JSON-ready values (the route adds writing the body). */
  serializeMs?: number;
}

/** What the route measures around the serving: the body parsed (by the framework) and the answer written. */
export interface RouteTiming {
  parseMs: number;
  serializeMs: number;
  /** Gzipping the answer; absent when it was sent as written. */
  compressMs?: number;
  totalMs: number;
}

/** Durations to 0.1 ms: finer digits are noise (local workerd's clock ticks in whole milliseconds). */
const ms = (v: number) => String(Math.round(v * 10) / 10);

export function serverTimingHeader(timing: ServingTiming, route?: RouteTiming): string {
  const metrics = [`cache;desc="${timing.cache}"`];
  if (route) metrics.push(`parse;dur=${ms(route.parseMs)}`);
  if (timing.validateMs !== undefined) metrics.push(`validate;dur=${ms(timing.validateMs)}`);
  if (timing.resolveMs !== undefined) metrics.push(`resolve;dur=${ms(timing.resolveMs)}`);
  if (timing.loadMs !== null) metrics.push(`load;dur=${ms(timing.loadMs)}`);
  metrics.push(`run;dur=${ms(timing.runMs)}`);
  if (route) {
    metrics.push(`serialize;dur=${ms((timing.serializeMs ?? 0) + route.serializeMs)}`);
    if (route.compressMs !== undefined) metrics.push(`compress;dur=${ms(route.compressMs)}`);
    metrics.push(`total;dur=${ms(route.totalMs)}`);
  }
  return metrics.join(", ");
}

/**
 * JSON answers from this length (UTF-16 units of the text, about its bytes) are gzipped when the client accepts it:
 * below it the edge's own compression costs next to nothing. Up to the second bound only, so that an answer is not held
 * three times over (text, bytes, gzip: at most about 10 MB) in the isolate; beyond it the answer goes as written.
 */
export const GZIP_JSON_BYTES = { from: 32 * 1024, upTo: 4 * 1024 * 1024 } as const;

/**
 * The client's own Accept-Encoding: Cloudflare's front line (and wrangler's, which copies it) hands the Worker
 * "br, gzip" whatever the client sent, keeps the client's header in `cf.clientAcceptEncoding`, and decodes an encoded
 * answer again for a client that refused it; read that, so that no answer is gzipped only to be gunzipped.
 */
export function clientAcceptEncoding(req: Request): string | undefined {
  const cf = (req as { cf?: { clientAcceptEncoding?: unknown } }).cf;
  if (typeof cf?.clientAcceptEncoding === "string") return cf.clientAcceptEncoding;
  return req.headers.get("Accept-Encoding") ?? undefined;
}

/** Whether an Accept-Encoding header admits gzip (RFC 9110 12.5.3: a q of 0 refuses it). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let wildcard: boolean | undefined;
  for (const part of header.split(",")) {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const admitted = q === undefined || Number(q.slice(2)) > 0;
    // A coding named outright outweighs the wildcard, wherever each stands.
    if (coding === "gzip" || coding === "x-gzip") return admitted;
    if (coding === "*") wildcard = admitted;
  }
  return wildcard ?? false;
}

async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Response(bytes).body!.pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** What timedJsonAnswer needs of the route's context (Hono's): its body writer, the request, when it arrived. */
export interface AnswerContext {
  body(data: string | Uint8Array<ArrayBuffer>, status: 200, headers: Record<string, string>): Response;
  req: { raw: Request };
  var: { received: number };
}

/**
 * Writes `value` as the JSON answer and sets its Server-Timing header, timing the write and (when the client accepts
 * gzip and the text is within GZIP_JSON_BYTES) the compression. `json` writes it as the route declares it (c.json);
 * gzip and text go through c.body (both add what the route set with c.header).
 */
export async function timedJsonAnswer<R extends Response>(c: AnswerContext, json: () => R, value: unknown, timing: ServingTiming, handlerStarted: number): Promise<R> {
  const body = (data: string | Uint8Array<ArrayBuffer>, headers: Record<string, string>) => c.body(data, 200, headers);
  const started = performance.now();
  const route: RouteTiming = { parseMs: handlerStarted - c.var.received, serializeMs: 0, totalMs: 0 };
  let res: Response;
  if (!acceptsGzip(clientAcceptEncoding(c.req.raw))) {
    res = json();
    route.serializeMs = performance.now() - started;
  } else {
    const text = JSON.stringify(value);
    const written = performance.now();
    route.serializeMs = written - started;
    const type = { "Content-Type": "application/json" };
    if (text.length < GZIP_JSON_BYTES.from || text.length > GZIP_JSON_BYTES.upTo) res = body(text, type);
    else {
      const sent = body(await gzip(new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>), { ...type, "Content-Encoding": "gzip", Vary: "Accept-Encoding" });
      // `manual`: the body is gzip already, which the runtime would otherwise encode again (a workerd ResponseInit field).
      res = new Response(sent.body, { status: sent.status, headers: sent.headers, encodeBody: "manual" });
      route.compressMs = performance.now() - written;
    }
  }
  route.totalMs = performance.now() - c.var.received;
  res.headers.set("Server-Timing", serverTimingHeader(timing, route));
  // The same JSON as json() writes, sent as text or gzip: the route's declared type still describes the body.
  return res as R;
}

/**
 * Writes the answer (`write` serializes it, e.g. c.json) and sets its Server-Timing header, timing the write itself:
 * `received` is when the request arrived (the first middleware's mark), `handlerStarted` when the route began (after
 * the framework parsed and checked the body).
 */
export function timedAnswer<R extends Response>(write: () => R, timing: ServingTiming, marks: { received: number; handlerStarted: number }): R {
  const started = performance.now();
  const res = write();
  const done = performance.now();
  const route = { parseMs: marks.handlerStarted - marks.received, serializeMs: done - started, totalMs: done - marks.received };
  res.headers.set("Server-Timing", serverTimingHeader(timing, route));
  return res;
}
