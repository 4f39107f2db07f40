// The search's winner among passing candidates: smallest, or fastest with near-ties going to the smaller one.
import { describe, expect, it } from "vitest";
import { pickBest } from "@worker/tune/winner";

const candidate = (name: string, bytes: number, latency: number | null) => ({
  name,
  built: { bytes: new Uint8Array(bytes) },
  report: { latencyMs: { fp32: 1, variant: latency, runs: latency === null ? 0 : 100 } },
});

describe("pickBest", () => {
  const int8 = candidate("int8", 400, 0.1);
  const int4 = candidate("int4", 200, 0.3);
  const mixed = candidate("mixed", 300, 0.103);

  it("picks the smallest for objective 'smallest', whatever the latencies", () => {
    expect(pickBest([int8, mixed, int4], "smallest")?.name).toBe("int4");
  });

  it("picks the fastest for 'fastest', preferring the smaller of candidates within 5% of it", () => {
    expect(pickBest([int4, int8], "fastest")?.name).toBe("int8");
    expect(pickBest([int4, int8, mixed], "fastest")?.name).toBe("mixed");
  });

  it("ignores unmeasured latencies, and falls back to the smallest when none was measured", () => {
    expect(pickBest([int4, int8, candidate("unmeasured", 50, null)], "fastest")?.name).toBe("int8");
    expect(pickBest([candidate("a", 500, null), candidate("b", 100, null)], "fastest")?.name).toBe("b");
  });

  it("returns undefined when nothing passed", () => {
    expect(pickBest([], "fastest")).toBeUndefined();
  });
});
