// POST /v1/datasets against hostile archives: each answers 400 invalid_dataset naming the problem, and stores nothing.
import { describe, expect, it } from "vitest";
import { api, expectError } from "@test/support/api";
import { hostileNpz } from "@test/support/npz";

function upload(bytes: Uint8Array): Promise<Response> {
  return api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: bytes });
}

async function storedDatasets(): Promise<unknown[]> {
  return ((await (await api("/v1/datasets")).json()) as { datasets: unknown[] }).datasets;
}

describe("POST /v1/datasets with a hostile .npz", () => {
  const cases: [string, () => Promise<Uint8Array> | Uint8Array, RegExp][] = [
    ["a stored entry declaring 0 bytes but holding more", () => hostileNpz.storedDeclaringZero(), /stored entry 'input.npy' declares 0 bytes/],
    ["50 central entries pointing at one local entry", () => hostileNpz.sharedLocalEntry(50), /share one local entry/],
    ["a truncated zip64 extra field", () => hostileNpz.truncatedZip64Extra(), /truncated zip64 extra field/],
    ["a deflate bomb past the 48 MiB limit", () => hostileNpz.deflateBomb(50 << 20), /inflates (beyond its declared size|past the limit)/],
  ];
  for (const [what, build, message] of cases) {
    it(`answers 400 invalid_dataset and stores nothing for ${what}`, async () => {
      const err = await expectError(await upload(await build()));
      expect(err.status).toBe(400);
      expect(err.code).toBe("invalid_dataset");
      expect(err.message).toMatch(message);
      expect(await storedDatasets()).toEqual([]);
    });
  }
});
