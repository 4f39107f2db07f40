// Reads a request body into one buffer while enforcing a byte limit, without holding it twice.
import { DomainError } from "../domain-error";

export async function readBodyWithLimit(
  body: ReadableStream<Uint8Array> | null,
  declaredLength: number | undefined,
  limit: number,
): Promise<Uint8Array> {
  const tooLarge = () => new DomainError("payload_too_large", `body exceeds the limit of ${limit} bytes`);
  if (declaredLength !== undefined && declaredLength > limit) {
    await body?.cancel();
    throw tooLarge();
  }
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  // With a declared length the buffer is allocated once; otherwise it grows by doubling.
  let buf = new Uint8Array(declaredLength ?? 64 * 1024);
  let used = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (used + value.byteLength > limit) {
      await reader.cancel();
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

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
