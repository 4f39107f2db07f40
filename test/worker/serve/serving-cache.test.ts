// What serves a request is remembered in the isolate for 5 s; failures are not; a model's deletion drops its entries.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isolate } from "@worker/isolate";
import { forgetAll, forgetModel, modelEntryKey, remembered } from "@worker/serve/serving-cache";

describe("the serving cache", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    forgetAll();
  });
  afterEach(() => vi.useRealTimers());

  it("answers from the isolate for 5 s, then loads again", async () => {
    let loads = 0;
    const load = async () => ++loads;
    expect(await remembered("t/m/record", load)).toBe(1);
    vi.advanceTimersByTime(4_999);
    expect(await remembered("t/m/record", load)).toBe(1);
    vi.advanceTimersByTime(1);
    expect(await remembered("t/m/record", load)).toBe(2);
    expect(isolate.servingRecords.get("t/m/record")).toEqual({ value: 2, fresh: true });
  });

  it("remembers a null answer, never a failure", async () => {
    expect(await remembered("t/m/pick:x:", async () => null)).toBeNull();
    expect(await remembered("t/m/pick:x:", async () => "loaded")).toBeNull();
    await expect(remembered("t/m/pick:y:", () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    expect(await remembered("t/m/pick:y:", async () => "loaded")).toBe("loaded");
  });

  it("forgets a deleted model's entries, not another's", async () => {
    await remembered(modelEntryKey("t", "m"), async () => "m");
    await remembered("t/m/pick::8", async () => "v8");
    await remembered(modelEntryKey("t", "m2"), async () => "m2");
    forgetModel("t", "m");
    expect(await remembered(modelEntryKey("t", "m"), async () => "m again")).toBe("m again");
    expect(await remembered("t/m/pick::8", async () => "v8 again")).toBe("v8 again");
    expect(await remembered(modelEntryKey("t", "m2"), async () => "m2 again")).toBe("m2");
  });
});
