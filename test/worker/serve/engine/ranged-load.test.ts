// Loading a session from a model's skeleton, its weights read by range as the planner reaches them: the same session
// as from the whole bytes (same outputs bit for bit, same kernel memory), on the zoo's exporter styles and on
// weight-only variants; a read-ahead that leaves a weight unread is an error, never a plan from missing bytes.
import { describe, expect, it } from "vitest";
import { decodeModel } from "@worker/onnx/codec";
import { bytesSource, readSkeleton } from "@worker/onnx/skeleton";
import { recordingSource } from "@test/support/byte-sources";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { createKernelSession, loadKernelSession, type KernelSession } from "@worker/serve/engine";
import { WeightNotLoaded } from "@worker/serve/engine/values";
import { plainKernelModule } from "@test/support/kernels";
import { zooModel } from "@test/support/zoo";

async function runBoth(a: KernelSession, b: KernelSession, feeds: Parameters<KernelSession["run"]>[0]) {
  return [await a.run(feeds), await b.run(feeds)] as const;
}

const CASES = [
  ["transformer", { quantize: { bits: 8 } }],
  ["transformer", { quantize: { bits: 4 } }],
  ["tied_embedding", { quantize: { bits: 8 } }],
  ["resnet18", { quantize: { bits: 4 } }],
  ["mobilenet_v2", { quantize: { bits: 8 } }],
  ["convtranspose", null],
] as const;

describe("a kernel session loaded from a skeleton and ranged reads", () => {
  for (const [name, recipe] of CASES) {
    it(`${name} ${recipe ? `int${recipe.quantize.bits}` : "fp32"}: the same session as from the whole bytes`, async () => {
      const zoo = await zooModel(name);
      const bytes = recipe ? compressModel(decodeModel(zoo.bytes), RecipeSchema.parse(recipe), undefined, zoo.bytes.byteLength).bytes : zoo.bytes;
      const source = recordingSource(bytes);
      const skeleton = decodeModel((await readSkeleton(source)).bytes);
      const skeletonReads = source.bytesRead;
      const ranged = await loadKernelSession(skeleton, plainKernelModule, source);
      const whole = createKernelSession(decodeModel(bytes), plainKernelModule);
      expect(ranged.reason).toBeNull();
      expect(whole.reason).toBeNull();
      // Every weight's bytes read once: what the skeleton left out, and nothing of it twice.
      expect(source.bytesRead - skeletonReads).toBeGreaterThan(0);
      expect(source.bytesRead).toBeLessThanOrEqual(bytes.byteLength + skeletonReads);
      expect(ranged.session!.weightBytes).toBe(whole.session!.weightBytes);
      expect(ranged.session!.heldBytes).toBe(whole.session!.heldBytes);
      const feeds = Object.fromEntries(Object.entries(zoo.inputs(1)).map(([k, t]) => [k, { type: t.type, dims: [...t.dims], data: t.data as Float32Array | BigInt64Array }]));
      const [a, b] = await runBoth(ranged.session!, whole.session!, feeds);
      for (const out of Object.keys(b)) expect(Array.from(a[out]!.data as Float32Array)).toEqual(Array.from(b[out]!.data as Float32Array));
    });
  }

  it("throws WeightNotLoaded where the planner reaches a weight the read-ahead did not fetch", async () => {
    const zoo = await zooModel("transformer");
    const skeleton = decodeModel((await readSkeleton(bytesSource(zoo.bytes))).bytes);
    await expect(loadKernelSession(skeleton, plainKernelModule, bytesSource(zoo.bytes), 0)).rejects.toBeInstanceOf(WeightNotLoaded);
  });
});
