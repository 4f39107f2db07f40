// Reads a request body into one buffer while enforcing a byte limit, without holding it twice.
import { DomainError } from "../domain-error";

const INITIAL_BUFFER_BYTES = 64 * 1024;
/** Bodies of a declared length up to this are read whole by the runtime rather than chunk by chunk. */
export const WHOLE_READ_BYTES = 1024 * 1024;
/** The largest declared length trusted to size a body's buffer before its bytes arrive (what a lying client may hold). */
export const PRESIZED_BODY_BYTES = 16 * 1024 * 1024;
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
  alignAt = 0,
): Promise<Uint8Array> {
  if (declaredLength !== undefined && declaredLength > limit) {
    await body?.cancel();
    throw tooLarge();
  }
  if (!body) return new Uint8Array();
  // Byte `alignAt` of the body lands on an 8-byte boundary of the buffer, so that typed arrays from there on (binary
  // tensors after a JSON header) are views of it, not copies.
  const pad = (8 - (alignAt % 8)) % 8;
  if (declaredLength !== undefined && declaredLength <= WHOLE_READ_BYTES) {
    // A small body of known length is read by the runtime in one call: a read per chunk from here costs more than the
    // copy (HTTP framing holds it to its declared length, checked again below).
    const whole = new Uint8Array(await new Response(body).arrayBuffer());
    if (whole.byteLength > limit) throw tooLarge();
    if (pad === 0) return whole;
    const aligned = new Uint8Array(pad + whole.byteLength);
    aligned.set(whole, pad);
    return aligned.subarray(pad);
  }
  const reader = body.getReader();
  // The buffer grows (doubling, up to the limit) as bytes arrive, and a declared length caps the last doubling. It sizes
  // the buffer at once (no copies: the doubling's last step held 1.5x the body) only up to PRESIZED_BODY_BYTES, since a
  // client may declare 60 MB and send 10 bytes.
  let buf = new Uint8Array(0);
  let used = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (used + value.byteLength > limit) {
      await drain(reader, REFUSED_BODY_DRAIN_BYTES);
      throw tooLarge();
    }
    if (pad + used + value.byteLength > buf.byteLength) {
      const needed = used + value.byteLength;
      const honest = declaredLength !== undefined && declaredLength >= needed;
      const cap = honest ? Math.min(limit, declaredLength) : limit;
      const presized = used === 0 && honest && declaredLength <= PRESIZED_BODY_BYTES;
      const grown = new Uint8Array(pad + (presized ? cap : Math.min(cap, Math.max(2 * used, INITIAL_BUFFER_BYTES, needed))));
      grown.set(buf.subarray(pad, pad + used), pad);
      buf = grown;
    }
    buf.set(value, pad + used);
    used += value.byteLength;
  }
  return pad === 0 && used === buf.byteLength ? buf : buf.subarray(pad, pad + used);
}

/** Bytes as lowercase hex (digests, ids). */
export function hexOf(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return hexOf(await crypto.subtle.digest("SHA-256", bytes));
}
