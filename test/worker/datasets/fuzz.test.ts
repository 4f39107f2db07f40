// Fuzzing the dataset parser (seeded, bounded in count): mutated .npz (stored and deflated, zip64 or not: sizes,
// offsets, entry counts, methods, name lengths, truncation, flipped bytes) and .npy headers (shapes, dtypes, order)
// through parseDataset. Every upload is parsed or refused with a DomainError (a 4xx), never another exception.
import { describe, expect, it } from "vitest";
import { parseDataset } from "@worker/datasets/dataset";
import { DomainError } from "@worker/domain-error";
import { mutatedDataset, seeded } from "@scripts/fuzz/cases.mjs";

const CASES = 400;
const LIMIT = 1 << 20;

describe("dataset fuzzing", () => {
  it(`${CASES} mutated .npz/.npy uploads are each parsed or refused with a DomainError`, async () => {
    const r = seeded(16);
    const counts: Record<string, number> = {};
    for (let i = 0; i < CASES; i++) {
      const { kind, bytes } = await mutatedDataset(r);
      let result: string;
      try {
        await parseDataset(bytes, LIMIT);
        result = "parsed";
      } catch (err) {
        if (!(err instanceof DomainError)) throw new Error(`case ${i} (${kind}) threw ${(err as Error).name}: ${(err as Error).message}`);
        result = `refused ${err.code}`;
      }
      counts[result] = (counts[result] ?? 0) + 1;
    }
    expect(counts["parsed"]).toBeGreaterThan(0);
    expect(Object.keys(counts).some((k) => k.startsWith("refused"))).toBe(true);
  });
});
