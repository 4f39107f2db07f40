// Body limits on every route: JSON of any media-type spelling and forms (the sign-in form included) answer 413 past
// their bound, whether the body declares its length or streams without one, and a JSON body under the bound reaches
// its route; an upload whose Content-Length lies is read for the bytes that arrive (the tests run with a 4 MiB
// MAX_UPLOAD_BYTES).
import { describe, expect, it } from "vitest";
import { api, expectError } from "@test/support/api";
import { MAX_JSON_BYTES } from "@worker/routes/body-limits";

const ORIGIN = "https://slimserve.test";
/** Just over the JSON bound (docs/limits.md). */
const OVERSIZE_JSON = new Uint8Array(MAX_JSON_BYTES + 1024).fill(0x20);

/** A body as a stream of 256 KiB chunks, so that it carries no Content-Length. */
function streamed(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.subarray(at, at + 256 * 1024));
      at += 256 * 1024;
    },
  });
}

describe("JSON body limit", () => {
  for (const type of ["Application/JSON", "application/x+json", "application/json; charset=utf-8"]) {
    it(`answers 413 to an oversize '${type}' body`, async () => {
      const res = await api("/v1/models/m/variants", { method: "POST", headers: { "Content-Type": type }, body: OVERSIZE_JSON });
      const err = await expectError(res);
      expect(err.status).toBe(413);
      expect(err.code).toBe("payload_too_large");
      expect(err.message).toBe(`JSON body exceeds ${MAX_JSON_BYTES} bytes`);
    });
  }

  it("answers 413 to an oversize JSON body streamed without a Content-Length", async () => {
    const res = await api("/v1/models/m/variants", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: streamed(OVERSIZE_JSON),
      // @ts-expect-error -- workerd needs duplex for a streamed request body
      duplex: "half",
    });
    const err = await expectError(res);
    expect(err.status).toBe(413);
    expect(err.message).toBe(`JSON body exceeds ${MAX_JSON_BYTES} bytes`);
  });

  it("lets a JSON body just under the bound reach its route, streamed or not", async () => {
    const recipe = new TextEncoder().encode(JSON.stringify({ quantize: { bits: 8 } }));
    const body = new Uint8Array(MAX_JSON_BYTES - 64).fill(0x20);
    body.set(recipe, body.byteLength - recipe.byteLength);
    for (const sent of [body, streamed(body)]) {
      const res = await api("/v1/models/000000000000000000000000/variants", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: sent,
        // @ts-expect-error -- workerd needs duplex for a streamed request body
        duplex: "half",
      });
      const err = await expectError(res);
      expect(err.status).toBe(404);
      expect(err.code).toBe("not_found");
    }
  });
});

describe("form body limit", () => {
  it("answers 413 to a large sign-in form, before reading it as a token", async () => {
    const body = `token=${"a".repeat(64 * 1024)}`;
    const res = await api("/login", {
      method: "POST",
      tenant: null,
      headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: ORIGIN },
      body,
    });
    const err = await expectError(res);
    expect(err.status).toBe(413);
    expect(err.message).toBe("form body exceeds 16384 bytes (a model's or dataset's bytes go as Content-Type: application/octet-stream)");
  });

  it("answers 413 to an upload sent with curl's default form type, saying which type an upload takes", async () => {
    const res = await api("/v1/datasets?name=labelled-as-form", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new Uint8Array(20 * 1024),
    });
    const err = await expectError(res);
    expect(err.status).toBe(413);
    expect(err.code).toBe("payload_too_large");
    expect(err.message).toContain("Content-Type: application/octet-stream");
  });

  it("still signs in with a form of ordinary size", async () => {
    const res = await api("/login", {
      method: "POST",
      tenant: null,
      headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: ORIGIN },
      body: "token=test-token",
      redirect: "manual",
    });
    expect(res.status).toBe(303);
  });
});

describe("raw upload with a lying Content-Length", () => {
  it("reads the 10 bytes sent under a declared length near the limit and answers for those bytes", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(10).fill(1));
        controller.close();
      },
    });
    const res = await api("/v1/datasets", {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream", "Content-Length": "4000000" },
      body,
      // @ts-expect-error -- workerd needs duplex for a streamed request body
      duplex: "half",
    });
    const err = await expectError(res);
    expect(err.status).toBe(400);
    expect(err.code).toBe("invalid_dataset");
  });
});
