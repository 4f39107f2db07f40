// The JSON encoding of non-finite tensor values: "NaN", "Infinity", "-Infinity" out, the same numbers back.
import { describe, expect, it } from "vitest";
import { decodeJsonNumber, decodeTensors, encodeJsonNumber, encodeTensors } from "@formats/json-numbers.js";

describe("JSON tensor numbers", () => {
  it("writes NaN and +/-Infinity as strings and leaves every other value as it is", () => {
    expect([NaN, Infinity, -Infinity, 0, -0, 1.5, true].map(encodeJsonNumber)).toEqual(["NaN", "Infinity", "-Infinity", 0, -0, 1.5, true]);
  });

  it("survives JSON.stringify and parse, where plain numbers would become null", () => {
    const outputs = { y: { type: "float32", dims: [4], data: [NaN, Infinity, -Infinity, 2] } };
    expect(JSON.parse(JSON.stringify(outputs)).y.data).toEqual([null, null, null, 2]);
    const back = decodeTensors(JSON.parse(JSON.stringify(encodeTensors(outputs))));
    expect(back.y!.data).toEqual([NaN, Infinity, -Infinity, 2]);
    expect(back.y!.dims).toEqual([4]);
  });

  it("passes a tensor whose values are all finite on without copying it, and copies one that has a non-finite value", () => {
    const finite = { type: "float32", dims: [3], data: [1, 2.5, true] };
    const mixed = { type: "float32", dims: [2], data: [1, NaN] };
    const out = encodeTensors({ finite, mixed });
    expect(out.finite).toBe(finite);
    expect(out.mixed!.data).toEqual([1, "NaN"]);
    expect(mixed.data).toEqual([1, NaN]);
  });

  it("refuses any other string", () => {
    expect(() => decodeJsonNumber("nan")).toThrow(/'nan' is not a number/);
  });
});
