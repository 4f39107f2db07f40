// Global setup for the workerd tests (runs in Node): onnxruntime-node computes reference outputs for the test
// models and for their int8 variants (made here by the same pure quantizer), so that the Worker's answers are
// checked against an independent executor, and the variant bytes the Worker makes are checked for equality. It also
// hands over the MNIST fixture files (base64) for the quality bars that run in workerd.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { quantizeModel } from "@worker/compress/quantize";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { randomInput } from "./models";
import { floatTensor, runReference } from "./ort-node";
import { fashionHeldoutNpz, heldoutNpz } from "./heldout";
import { FASHION_HELDOUT_FIXTURE, FIXTURE_FILES, HELDOUT_FIXTURE, HELDOUT_IMAGES_FIXTURE, REFERENCE_MODELS, type ReferenceCase, type References } from "./reference-models";

async function referenceCase(bytes: Uint8Array, dims: number[], seed: number): Promise<ReferenceCase> {
  const input = randomInput(dims.reduce((a, b) => a * b, 1), seed);
  const variant = encodeModel(quantizeModel(decodeModel(bytes), { bits: 8 }).model);
  const feeds = { input: floatTensor(input, dims) };
  const fp32 = (await runReference(bytes, feeds)).logits!.data as Float32Array;
  const int8 = (await runReference(variant, feeds)).logits!.data as Float32Array;
  const lowBit = async (bits: 2 | 1) => {
    const bytesOf = compressModel(decodeModel(bytes), RecipeSchema.parse({ quantize: { bits } })).bytes;
    const outputs = (await runReference(bytesOf, feeds)).logits!.data as Float32Array;
    return { sha256: createHash("sha256").update(bytesOf).digest("hex"), outputs: Array.from(outputs) };
  };
  return {
    dims,
    input,
    fp32: Array.from(fp32),
    int8: Array.from(int8),
    int8Sha256: createHash("sha256").update(variant).digest("hex"),
    lowBit: { "2": await lowBit(2), "1": await lowBit(1) },
  };
}

export default async function setup(project: TestProject) {
  const references: References = {
    mlp: await referenceCase(REFERENCE_MODELS.mlp.build(), [...REFERENCE_MODELS.mlp.dims], 31),
    cnn: await referenceCase(REFERENCE_MODELS.cnn.build(), [...REFERENCE_MODELS.cnn.dims], 32),
  };
  project.provide("references", references);
  const fixtures = Object.fromEntries(FIXTURE_FILES.map((f) => [f, readFileSync(`test/fixtures/${f}`).toString("base64")]));
  fixtures[HELDOUT_FIXTURE] = Buffer.from(await heldoutNpz()).toString("base64");
  fixtures[HELDOUT_IMAGES_FIXTURE] = Buffer.from(await heldoutNpz(true)).toString("base64");
  fixtures[FASHION_HELDOUT_FIXTURE] = Buffer.from(await fashionHeldoutNpz()).toString("base64");
  project.provide("fixtures", fixtures);
}
