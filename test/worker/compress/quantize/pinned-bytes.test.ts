// Variant ids are content addresses: the int8 bytes of fixed models are pinned to the hashes the original
// (two-pass, reconstruct-then-compare) quantizer produced, so a faster quantizer cannot change a single byte.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { compressModel } from "@worker/compress/pipeline";
import { decodeModel } from "@worker/onnx/codec";
import { RecipeSchema } from "@worker/compress/recipe";
import { REFERENCE_MODELS } from "@test/support/reference-models";

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

// 2-bit (ternary, blocks of 32) and 1-bit variants store INT2 at opset 25 since bits 2 arrived; 1-bit bytes (and
// ids' bytes) changed then on purpose (int8 signs -> INT2 signs, 4x smaller). Pinned so that they stay put now.
const LOW_BIT_PINNED: Record<string, string> = {
  "mlp 2": "e1d204da7e15dfd3e0914b4c9a96ebfad90b1d53e3114d864db3a87735687eb6",
  "mlp 1": "5eb4b25180925c5cb95c9c19ab6872243a90f758543f33a561b47c6f82eefad9",
  "cnn 2": "f0b4209c650dc3ff37ee8b393b9cd87597b39aa38e8f12357909584cf607c28e",
  "cnn 1": "a6006a6553d5c908a1aab47c6fdc0d9771fe9a5991768e3a6d20c2176dcd7da9",
};

describe("2-bit and 1-bit variant bytes", () => {
  for (const key of Object.keys(LOW_BIT_PINNED)) {
    const [name, bits] = key.split(" ") as ["mlp" | "cnn", string];
    it(`are byte-identical to the pinned ${name} ${bits}-bit variant`, () => {
      const out = compressModel(decodeModel(REFERENCE_MODELS[name].build()), RecipeSchema.parse({ quantize: { bits: Number(bits) } }));
      expect(sha(out.bytes)).toBe(LOW_BIT_PINNED[key]);
    });
  }
});
