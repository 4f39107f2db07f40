// Reads a request body into one buffer while enforcing a byte limit, without holding it twice.
import { DomainError } from "../domain-error";

const INITIAL_BUFFER_BYTES = 64 * 1024;
/**
 * A body refused for its size is read on and discarded for up to this many more bytes, so that the client, still
 * sending, gets the 413 rather than a connection closed under it; past that the rest is left unread (the connection
 * closes). Discarding costs about 12 ms of CPU per MiB in workerd and holds no more than one chunk.
 */
export const REFUSED_BODY_DRAIN_BYTES = 32 * 1024 * 1024;

/** Reads and drops what a refused body still sends, up to `budget` bytes, then stops reading. */
export async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, budget: number): Promise<void> {
  let left = budget;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    left -= value.byteLength;
    if (left < 0) {
      await reader.cancel();
      return;
    }
  }
}

export async function readBodyWithLimit(
  body: ReadableStream<Uint8Array> | null,
  declaredLength: number | undefined,
  limit: number,
  tooLarge: () => Error = () => new DomainError("payload_too_large", `body exceeds the limit of ${limit} bytes`),
): Promise<Uint8Array> {
  if (declaredLength !== undefined && declaredLength > limit) {
    await body?.cancel();
    throw tooLarge();
  }
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  // The buffer grows (doubling, up to the limit) as bytes arrive: a declared length only refuses early, it never
  // sizes an allocation, since a client may declare 60 MB and send 10 bytes.
  let buf = new Uint8Array(INITIAL_BUFFER_BYTES);
  let used = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (used + value.byteLength > limit) {
      await drain(reader, REFUSED_BODY_DRAIN_BYTES);
      throw tooLarge();
    }
    if (used + value.byteLength > buf.byteLength) {
      const grown = new Uint8Array(Math.min(limit, Math.max(buf.byteLength * 2, used + value.byteLength)));
      grown.set(buf.subarray(0, used));
      buf = grown;
    }
    buf.set(value, used);
    used += value.byteLength;
  }
  return used === buf.byteLength ? buf : buf.subarray(0, used);
}

/** Bytes as lowercase hex (digests, ids). */
export function hexOf(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return hexOf(await crypto.subtle.digest("SHA-256", bytes));
}
