// Reading an upload body under a limit: the buffer follows the bytes that arrive; a declared Content-Length only caps it.
import { describe, expect, it } from "vitest";
import { PRESIZED_BODY_BYTES, readBodyWithLimit, REFUSED_BODY_DRAIN_BYTES, WHOLE_READ_BYTES } from "@worker/store/body";

function streamOf(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

describe("readBodyWithLimit", () => {
  it("allocates for the bytes that arrive when the declared length lies (60 MB declared, 10 bytes sent)", async () => {
    const bytes = await readBodyWithLimit(streamOf(new Uint8Array(10).fill(7)), 60_000_000, 64 * 1024 * 1024);
    expect(Array.from(bytes)).toEqual(new Array(10).fill(7));
    expect(bytes.buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
  });

  it("grows past its first buffer and keeps every byte in order", async () => {
    const a = new Uint8Array(50_000).fill(1);
    const b = new Uint8Array(100_000).fill(2);
    const bytes = await readBodyWithLimit(streamOf(a, b), undefined, 1 << 20);
    expect(bytes.byteLength).toBe(150_000);
    expect(bytes[49_999]).toBe(1);
    expect(bytes[50_000]).toBe(2);
    expect(bytes[149_999]).toBe(2);
  });

  it("sizes the buffer by a declared length up to PRESIZED_BODY_BYTES when the first bytes arrive, and never beyond it", async () => {
    const declared = 2 * WHOLE_READ_BYTES;
    expect(declared).toBeLessThanOrEqual(PRESIZED_BODY_BYTES);
    const small = await readBodyWithLimit(streamOf(new Uint8Array(10).fill(3)), declared, 64 * 1024 * 1024);
    expect(small.buffer.byteLength).toBe(declared);
    expect(Array.from(small)).toEqual(new Array(10).fill(3));
    const big = await readBodyWithLimit(streamOf(new Uint8Array(10)), PRESIZED_BODY_BYTES + 1, 64 * 1024 * 1024);
    expect(big.buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
  });

  it("above PRESIZED_BODY_BYTES, doubles as bytes arrive but no further than an honest declared length", async () => {
    const chunk = 1 << 20;
    const chunks = Array.from({ length: 17 }, (_, i) => new Uint8Array(chunk).fill(i + 1));
    const declared = 17 * chunk;
    expect(declared).toBeGreaterThan(PRESIZED_BODY_BYTES);
    const bytes = await readBodyWithLimit(streamOf(...chunks), declared, 64 * chunk);
    expect(bytes.byteLength).toBe(declared);
    expect(bytes.buffer.byteLength).toBe(declared); // doubling alone would have grown to 32 MiB
    expect(bytes[declared - 1]).toBe(17);
  });

  it("places byte alignAt on an 8-byte boundary, so that typed arrays after a header are views of the buffer", async () => {
    // Unknown length (read chunk by chunk), and a known one read whole by the runtime (up to WHOLE_READ_BYTES).
    for (const declared of [undefined, 100_000]) {
      for (const alignAt of [0, 1, 5, 8, 13]) {
        const body = Uint8Array.from({ length: 100_000 }, (_, i) => i % 251);
        const bytes = await readBodyWithLimit(streamOf(body.subarray(0, 70_000), body.subarray(70_000)), declared, 1 << 20, undefined, alignAt);
        expect((bytes.byteOffset + alignAt) % 8).toBe(0);
        expect(bytes.byteLength).toBe(100_000);
        expect(Buffer.from(bytes).equals(Buffer.from(body))).toBe(true);
      }
    }
  });

  it("refuses a declared length over the limit before reading, and a stream that passes it while reading", async () => {
    await expect(readBodyWithLimit(streamOf(new Uint8Array(10)), 2000, 1000)).rejects.toMatchObject({ code: "payload_too_large" });
    await expect(readBodyWithLimit(streamOf(new Uint8Array(600), new Uint8Array(600)), undefined, 1000)).rejects.toMatchObject({ code: "payload_too_large" });
  });

  it("reads a refused body on to its end, discarding it, so that the sender gets the answer", async () => {
    let pulled = 0;
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled === 5) return controller.close();
        pulled++;
        controller.enqueue(new Uint8Array(600));
      },
      cancel() {
        cancelled = true;
      },
    });
    await expect(readBodyWithLimit(body, undefined, 1000)).rejects.toMatchObject({ code: "payload_too_large" });
    expect(pulled).toBe(5);
    expect(cancelled).toBe(false);
  });

  it("stops reading a refused body once it has discarded REFUSED_BODY_DRAIN_BYTES more", async () => {
    let sent = 0;
    let cancelled = false;
    const chunk = new Uint8Array(1 << 20);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel() {
        cancelled = true;
      },
    });
    await expect(readBodyWithLimit(body, undefined, 1000)).rejects.toMatchObject({ code: "payload_too_large" });
    expect(cancelled).toBe(true);
    expect(sent).toBeGreaterThan(REFUSED_BODY_DRAIN_BYTES);
    expect(sent).toBeLessThanOrEqual(REFUSED_BODY_DRAIN_BYTES + 4 * chunk.byteLength);
  });

  it("refuses with the caller's error when it gives one", async () => {
    const tooLarge = () => new Error("JSON body exceeds 1000 bytes");
    await expect(readBodyWithLimit(streamOf(new Uint8Array(1200)), undefined, 1000, tooLarge)).rejects.toThrow("JSON body exceeds 1000 bytes");
  });
});
