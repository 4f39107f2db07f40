// The isolate's time-bounded memory of remote stores: fresh for its TTL, readable once stale, bounded in entries.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TtlMap } from "@worker/serve/ttl-map";

describe("TtlMap", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  it("is fresh for the TTL after a write, then stale but still readable", () => {
    const map = new TtlMap<string>({ ttlMs: 5_000, maxEntries: 10 });
    map.set("a", "one");
    vi.setSystemTime(1_004_999);
    expect(map.get("a")).toEqual({ value: "one", fresh: true });
    vi.setSystemTime(1_005_000);
    expect(map.get("a")).toEqual({ value: "one", fresh: false });
    map.set("a", "two");
    expect(map.get("a")).toEqual({ value: "two", fresh: true });
    expect(map.get("b")).toBeUndefined();
  });

  it("keeps null and undefined values as entries", () => {
    const map = new TtlMap<string | null | undefined>({ ttlMs: 5_000, maxEntries: 10 });
    map.set("none", null);
    map.set("nothing", undefined);
    expect(map.get("none")).toEqual({ value: null, fresh: true });
    expect(map.get("nothing")).toEqual({ value: undefined, fresh: true });
  });

  it("drops the entry written longest ago past its bound; a rewrite makes an entry the newest", () => {
    const map = new TtlMap<number>({ ttlMs: 5_000, maxEntries: 3 });
    map.set("a", 1);
    map.set("b", 2);
    map.set("c", 3);
    map.set("a", 10);
    map.set("d", 4);
    expect(map.size).toBe(3);
    expect(map.get("b")).toBeUndefined();
    expect([map.get("a")?.value, map.get("c")?.value, map.get("d")?.value]).toEqual([10, 3, 4]);
  });

  it("deletes one key, every key under a prefix, or everything", () => {
    const map = new TtlMap<number>({ ttlMs: 5_000, maxEntries: 10 });
    for (const [i, key] of ["t/m1/record", "t/m1/pick:a:", "t/m10/record", "u/m1/record"].entries()) map.set(key, i);
    map.deletePrefix("t/m1/");
    expect([map.get("t/m1/record"), map.get("t/m1/pick:a:")]).toEqual([undefined, undefined]);
    expect([map.get("t/m10/record")?.value, map.get("u/m1/record")?.value]).toEqual([2, 3]);
    map.delete("u/m1/record");
    expect(map.size).toBe(1);
    map.clear();
    expect(map.size).toBe(0);
  });
});
