// The session cache's policy: LRU by measured bytes, and the entry a request just used is never the one evicted.
import { describe, expect, it } from "vitest";
import { ByteBudgetLru, type Sized } from "@worker/serve/session-cache";

const MiB = 1024 * 1024;

/** A value of some size that records its release (sizes can change, as a kernel arena grows on first run). */
class Session implements Sized {
  released = 0;
  constructor(public residentBytes: number) {}
  release(): void {
    this.released++;
  }
}

describe("ByteBudgetLru", () => {
  it("keeps a lone entry above the budget across repeated lookups and re-applications of the budget", () => {
    const cache = new ByteBudgetLru<Session>(32 * MiB);
    const big = new Session(56 * MiB);
    cache.set("mobilenet", big);
    for (let i = 0; i < 6; i++) {
      cache.setBudget(32 * MiB); // the Worker applies its configured budget on every request
      expect(cache.get("mobilenet")).toBe(big);
    }
    expect(big.released).toBe(0);
    expect(cache.usedBytes).toBe(56 * MiB);
  });

  it("keeps the most recently used entry when the budget is lowered below it, evicting the older ones", () => {
    const cache = new ByteBudgetLru<Session>(32 * MiB);
    const older = new Session(8 * MiB);
    const recent = new Session(16 * MiB);
    cache.set("older", older);
    cache.set("recent", recent);
    cache.setBudget(1 * MiB);
    expect([older.released, recent.released]).toEqual([1, 0]);
    expect(cache.size).toBe(1);
    expect(cache.get("recent")).toBe(recent);
  });

  it("evicts the lone over-budget entry once another one needs the room", () => {
    const cache = new ByteBudgetLru<Session>(32 * MiB);
    const first = new Session(56 * MiB);
    const second = new Session(4 * MiB);
    cache.set("first", first);
    cache.set("second", second);
    expect(first.released).toBe(1);
    expect(cache.get("first")).toBeUndefined();
    expect(cache.get("second")).toBe(second);
    expect(cache.usedBytes).toBe(4 * MiB);
  });

  it("evicts least recently used entries first, and only as many as the new entry needs", () => {
    const cache = new ByteBudgetLru<Session>(30 * MiB);
    const a = new Session(10 * MiB);
    const b = new Session(10 * MiB);
    const c = new Session(10 * MiB);
    cache.set("a", a);
    cache.set("b", b);
    cache.set("c", c);
    cache.get("a"); // a is now more recent than b and c
    cache.set("d", new Session(10 * MiB));
    expect([a.released, b.released, c.released]).toEqual([0, 1, 0]);
    expect(cache.size).toBe(3);
    expect(cache.usedBytes).toBe(30 * MiB);
  });

  it("never evicts the entry just inserted, even when it alone exceeds the budget", () => {
    const cache = new ByteBudgetLru<Session>(10 * MiB);
    const a = new Session(4 * MiB);
    const b = new Session(4 * MiB);
    const huge = new Session(100 * MiB);
    cache.set("a", a);
    cache.set("b", b);
    cache.set("huge", huge);
    expect(cache.size).toBe(1);
    expect(cache.get("huge")).toBe(huge);
    expect([a.released, b.released, huge.released]).toEqual([1, 1, 0]);
  });

  it("measures an entry again on lookup: if it grew, older entries make room and the one looked up stays", () => {
    const cache = new ByteBudgetLru<Session>(10 * MiB);
    const older = new Session(4 * MiB);
    const growing = new Session(4 * MiB);
    cache.set("older", older);
    cache.set("growing", growing);
    growing.residentBytes = 20 * MiB; // its activation arena grew during a run
    expect(cache.get("growing")).toBe(growing);
    expect([older.released, growing.released]).toEqual([1, 0]);
    expect(cache.size).toBe(1);
    expect(cache.usedBytes).toBe(20 * MiB);
  });

  it("gives back an entry's counted bytes when it is deleted or replaced", () => {
    const cache = new ByteBudgetLru<Session>(64 * MiB);
    const first = new Session(8 * MiB);
    cache.set("m/a", first);
    cache.set("m/a", new Session(6 * MiB));
    cache.set("m/b", new Session(2 * MiB));
    cache.set("other/a", new Session(1 * MiB));
    expect(first.released).toBe(1);
    expect(cache.usedBytes).toBe(9 * MiB);
    cache.deletePrefix("m/");
    expect(cache.size).toBe(1);
    expect(cache.usedBytes).toBe(1 * MiB);
  });
});
