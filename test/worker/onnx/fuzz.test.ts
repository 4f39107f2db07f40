// Fuzzing the model path (seeded, bounded in count): mutated ONNX (dims, data_location, raw sizes, sparse tensors,
// attributes, subgraphs, graph size, opsets, byte damage) through the codec, validation, the summary, the kernel
// engine's planner and one run. Every input is accepted or refused with a DomainError (a 4xx); the engine may decline
// a model (Uncovered, onnxruntime-web then decides) or refuse a run's inputs (RangeError, a 400); nothing else.
import { describe, expect, it } from "vitest";
import type { ModelProto } from "onnx-buf";
import { decodeModel } from "@worker/onnx/codec";
import { summarizeModel, validateModel } from "@worker/onnx/validate";
import { DomainError } from "@worker/domain-error";
import { createKernelSession } from "@worker/serve/engine";
import { plainKernelModule } from "@test/support/kernels";
import { modelSeeds, mutatedModel, seeded } from "@scripts/fuzz/cases.mjs";

/** Cases per run: enough to reach every mutation several times, few enough for a few seconds (graphs past the node
 * cap are left to validate.test.ts and the campaign, scripts/fuzz.mjs: decoding 50k nodes alone takes a second). */
const CASES = 150;

/** Zero feeds at the declared dims (symbolic and unknown dims at 1, capped so a mutated dim cannot size them). */
function feedsOf(model: ModelProto) {
  const init = new Set(model.graph!.initializer.map((t) => t.name));
  return Object.fromEntries(
    model.graph!.input.filter((v) => !init.has(v.name)).map((v) => {
      const tt = v.type?.value.case === "tensorType" ? v.type.value.value : undefined;
      const dims = (tt?.shape?.dim ?? []).map((d) => (d.value.case === "dimValue" ? Math.min(Math.max(Number(d.value.value), 1), 64) : 1));
      return [v.name, { type: "float32", dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) }];
    }),
  );
}

/** What one case came to: "refused <code>", "accepted", "accepted, ran", "accepted, run refused". */
async function outcome(bytes: Uint8Array): Promise<string> {
  let model: ModelProto;
  try {
    model = decodeModel(bytes);
    validateModel(model);
    summarizeModel(model);
  } catch (err) {
    if (err instanceof DomainError) return `refused ${err.code}`;
    throw err;
  }
  const loaded = createKernelSession(model, plainKernelModule);
  if (!loaded.session) return "accepted, not covered";
  try {
    await loaded.session.run(feedsOf(model));
    return "accepted, ran";
  } catch (err) {
    if (err instanceof DomainError || err instanceof RangeError) return "accepted, run refused";
    throw err;
  }
}

describe("model fuzzing", () => {
  it("every seed is accepted and covered by the kernel engine", async () => {
    for (const m of modelSeeds()) {
      const { toBinary } = await import("@bufbuild/protobuf");
      const { ModelProtoSchema } = await import("onnx-buf");
      expect(await outcome(toBinary(ModelProtoSchema, m))).toMatch(/^accepted/);
    }
  });

  it(`${CASES} mutated models are each accepted or refused with a DomainError, never another exception`, async () => {
    const r = seeded(16);
    const seeds = modelSeeds();
    const counts: Record<string, number> = {};
    for (let i = 0; i < CASES; i++) {
      const { kind, bytes } = mutatedModel(r, seeds, { large: false });
      let result: string;
      try {
        result = await outcome(bytes);
      } catch (err) {
        throw new Error(`case ${i} (${kind}) threw ${(err as Error).name}: ${(err as Error).message}`);
      }
      counts[result] = (counts[result] ?? 0) + 1;
    }
    // The campaign reaches both sides: refusals and models that still load and run.
    expect(Object.keys(counts).some((k) => k.startsWith("refused"))).toBe(true);
    expect(Object.keys(counts).some((k) => k.startsWith("accepted"))).toBe(true);
  });
});
