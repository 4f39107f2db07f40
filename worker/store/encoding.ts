// Content codings for downloads (RFC 9110 §8.4): which one a request accepts, and the encoded bytes. gzip goes
// through CompressionStream (streamed); workerd's CompressionStream has no brotli, so br uses node:zlib.
import { brotliCompressSync, constants } from "node:zlib";

export type ContentCoding = "br" | "gzip";

/** Brotli quality for downloads and the reported sizes: 9 is within a few % of 11 at a fraction of the CPU time. */
export const BROTLI_QUALITY = 9;

/** The preferred coding the Accept-Encoding header allows (br over gzip on equal q), or null for identity. */
export function negotiateEncoding(header: string | null | undefined): ContentCoding | null {
  if (!header) return null;
  const q = new Map<string, number>();
  for (const part of header.split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    if (!name) continue;
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const value = qp ? Number(qp.slice(2)) : 1;
    q.set(name, Number.isFinite(value) ? value : 0);
  }
  const weight = (c: string) => q.get(c) ?? q.get("*") ?? 0;
  const best = (["br", "gzip"] as const).filter((c) => weight(c) > 0).sort((a, b) => weight(b) - weight(a))[0];
  return best ?? null;
}

export function gzipStream(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  return body.pipeThrough(new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>);
}

export async function gzipBytes(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = gzipStream(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream());
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function brotliBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(
    brotliCompressSync(bytes, {
      params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength },
    }),
  );
}

/** Bytes on the wire for each coding. */
export async function encodedSizes(bytes: Uint8Array): Promise<{ gzip: number; br: number }> {
  return { gzip: (await gzipBytes(bytes)).byteLength, br: brotliBytes(bytes).byteLength };
}
