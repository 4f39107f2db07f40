// Reading an upload body under a limit: the buffer follows the bytes that arrive, never the declared Content-Length.
import { describe, expect, it } from "vitest";
import { readBodyWithLimit } from "@worker/store/body";

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

  it("refuses a declared length over the limit before reading, and a stream that passes it while reading", async () => {
    await expect(readBodyWithLimit(streamOf(new Uint8Array(10)), 2000, 1000)).rejects.toMatchObject({ code: "payload_too_large" });
    await expect(readBodyWithLimit(streamOf(new Uint8Array(600), new Uint8Array(600)), undefined, 1000)).rejects.toMatchObject({ code: "payload_too_large" });
  });
});
