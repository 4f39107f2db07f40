// Which quantization a pruning search may put on the survivors: 16, 8, 4 and ternary 2 (zeros stay zero), not
// binary 1 (sign(0) = +1 would undo the pruning).
import { describe, expect, it } from "vitest";
import { PruneSearchSchema } from "@worker/tune/prune-search";

describe("pruning search quantize option", () => {
  it("accepts 16, 8, 4 and 2 bits and refuses 1", () => {
    for (const bits of [16, 8, 4, 2]) expect(PruneSearchSchema.safeParse({ quantize: { bits } }).success).toBe(true);
    expect(PruneSearchSchema.safeParse({ quantize: { bits: 1 } }).success).toBe(false);
  });
});
