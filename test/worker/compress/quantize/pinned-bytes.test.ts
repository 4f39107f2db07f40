// Variant ids are content addresses: the int8 bytes of fixed models are pinned to the hashes the original
// (two-pass, reconstruct-then-compare) quantizer produced, so a faster quantizer cannot change a single byte.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { compressModel } from "../../../../worker/compress/pipeline";
import { decodeModel } from "../../../../worker/onnx/codec";
import { RecipeSchema } from "../../../../worker/compress/recipe";
import { REFERENCE_MODELS } from "../../../support/reference-models";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

const PINNED: Record<string, string> = {
  mlp: "51e5d62191e91971f2fd9e03900a69351b1d83eac6cf7398beaa921859bc4e5e",
  cnn: "5199fb7de4a78a53c47f30af28e59921db4a8528e52626def3e57750c6042451",
};

describe("int8 weight-only variant bytes", () => {
  for (const name of ["mlp", "cnn"] as const) {
    it(`are byte-identical to the pinned ${name} variant (MatMul/Gemm channels last, Conv channels first)`, () => {
      const out = compressModel(decodeModel(REFERENCE_MODELS[name].build()), RecipeSchema.parse({ quantize: { bits: 8 } }));
      expect(sha(out.bytes)).toBe(PINNED[name]);
    });
  }
});
