// measureLatency against simulated clocks: a whole-millisecond clock like workerd's local one, a frozen one like a
// deployed Worker's without I/O, and a slow model against the time budget.
import { describe, expect, it } from "vitest";
import { measureLatency } from "@worker/evaluate/latency";

/** Virtual time: runs cost `runMs`, a timer wait costs its delay plus `turnMs`; the clock reads it floored to `tickMs`. */
function simulated(runMs: number, { tickMs = 1, turnMs = 0.3, frozen = false, timersAdvance = true, stuckMs = 0 } = {}) {
  let now = 0;
  let runs = 0;
  return {
    run: async () => {
      now += runMs;
      runs++;
    },
    // `stuckMs`: the clock reads 0 until that much time has passed (a loaded isolate's stale reading).
    clock: () => (frozen || now < stuckMs ? 0 : Math.floor(now / tickMs) * tickMs),
    pause: async (ms: number) => {
      if (timersAdvance) now += ms + turnMs;
    },
    get runs() {
      return runs;
    },
    get now() {
      return now;
    },
  };
}

describe("measureLatency", () => {
  it("times a run far shorter than the clock's tick to within 6%", async () => {
    for (const runMs of [0.137, 0.02, 1.7]) {
      const sim = simulated(runMs);
      const { ms, runs } = await measureLatency(sim.run, { clock: sim.clock, pause: sim.pause });
      expect(ms).not.toBeNull();
      expect(Math.abs(ms! - runMs) / runMs).toBeLessThan(0.06);
      expect(runs).toBeGreaterThan(0);
    }
  });

  it("subtracts what closing a window costs", async () => {
    const sim = simulated(0.5, { turnMs: 4 });
    const { ms } = await measureLatency(sim.run, { clock: sim.clock, pause: sim.pause });
    expect(Math.abs(ms! - 0.5) / 0.5).toBeLessThan(0.06);
  });

  it("reports null, after a few probe runs at most, when the clock never moves", async () => {
    const sim = simulated(3, { frozen: true });
    expect(await measureLatency(sim.run, { clock: sim.clock, pause: sim.pause })).toEqual({ ms: null, runs: 0 });
    expect(sim.runs).toBeLessThanOrEqual(16);
  });

  it("measures a clock that reads the same time across its first 30 ms of timer waits", async () => {
    const sim = simulated(0.137, { stuckMs: 30 });
    const { ms, runs } = await measureLatency(sim.run, { clock: sim.clock, pause: sim.pause });
    expect(Math.abs(ms! - 0.137) / 0.137).toBeLessThan(0.06);
    expect(runs).toBeGreaterThan(0);
  });

  it("still measures where timers do not move the clock but computing does", async () => {
    const sim = simulated(0.25, { timersAdvance: false });
    const { ms } = await measureLatency(sim.run, { clock: sim.clock, pause: sim.pause });
    expect(Math.abs(ms! - 0.25) / 0.25).toBeLessThan(0.06);
  });

  it("keeps a slow model within its time budget", async () => {
    const sim = simulated(300);
    const { ms } = await measureLatency(sim.run, { clock: sim.clock, pause: sim.pause, budgetMs: 1000 });
    expect(ms).toBeCloseTo(300, 0);
    // Warm-up, one sizing window, then windows only while the budget lasts (one window may overshoot it).
    expect(sim.now).toBeLessThan(1000 + 2 * 300 + 50);
  });

  it("reports null rather than 0 when even the largest window reads as empty", async () => {
    const sim = simulated(1e-6, { tickMs: 1, turnMs: 0 });
    const { ms } = await measureLatency(sim.run, { clock: sim.clock, pause: sim.pause, maxRunsPerWindow: 64 });
    expect(ms).toBeNull();
  });
});
