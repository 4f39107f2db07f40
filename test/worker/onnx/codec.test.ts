import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeModel, encodeModel, modelsEqual, OnnxDecodeError } from "@worker/onnx/codec";
import { validateModel } from "@worker/onnx/validate";
import { corpusCases } from "./corpus";

describe("ONNX codec on the libonnx-testdata corpus", () => {
  const cases = corpusCases();

  it("finds the whole corpus", () => {
    expect(cases.length).toBeGreaterThan(1000);
  });

  it("decodes, re-encodes byte-identically and decodes to an equal message for every model", () => {
    const failures: string[] = [];
    for (const c of cases) {
      const bytes = readFileSync(c.model);
      const model = decodeModel(bytes);
      const again = encodeModel(model);
      if (Buffer.compare(Buffer.from(again), bytes) !== 0) failures.push(`${c.name}: bytes differ`);
      else if (!modelsEqual(decodeModel(again), model)) failures.push(`${c.name}: messages differ`);
    }
    expect(failures).toEqual([]);
  });

  it("accepts every corpus model as valid", () => {
    const rejected: string[] = [];
    for (const c of cases) {
      try {
        validateModel(decodeModel(readFileSync(c.model)));
      } catch (err) {
        rejected.push(`${c.name}: ${(err as Error).message}`);
      }
    }
    expect(rejected).toEqual([]);
  });
});

describe("decodeModel", () => {
  it("rejects an empty body", () => {
    expect(() => decodeModel(new Uint8Array())).toThrow(OnnxDecodeError);
  });
});
