// Compression in workerd quantizes on the wasm kernel that the Worker provides at startup (worker/index.ts), and
// still makes the variant bytes the scalar quantizer made: the pinned hashes, and those of the Node global setup
// (scalar path).
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import "@worker/index";
import { compressModelBytes } from "@worker/catalog/variants";
import { compressionKernelModule, provideCompressionKernels } from "@worker/compress/simd-quantize";
import { quantizeWeightsPerChannel, quantizeWeightsPerChannelScalar } from "@worker/compress/quantize/weights";
import { RecipeSchema } from "@worker/compress/recipe";
import { kernelModules } from "@worker/serve/wasm/builds";
import { sha256Hex } from "@worker/store/body";
import { uniform } from "@test/support/numbers";
import { REFERENCE_MODELS } from "@test/support/reference-models";

// The same pins as test/worker/compress/quantize/pinned-bytes.test.ts (made by the original scalar quantizer).
const PINNED = {
  mlp: "51e5d62191e91971f2fd9e03900a69351b1d83eac6cf7398beaa921859bc4e5e",
  cnn: "5199fb7de4a78a53c47f30af28e59921db4a8528e52626def3e57750c6042451",
};

describe("compression on the wasm kernels in workerd", () => {
  it("is handed the plain SIMD128 kernels module by the Worker at startup", () => {
    expect(compressionKernelModule()).toBe(kernelModules.plain);
  });

  for (const name of ["mlp", "cnn"] as const) {
    it(`makes the pinned int8 bytes of the ${name} reference model`, async () => {
      const out = compressModelBytes(REFERENCE_MODELS[name].build(), RecipeSchema.parse({ quantize: { bits: 8 } }));
      const sha = await sha256Hex(out.bytes);
      expect(sha).toBe(PINNED[name]);
      expect(sha).toBe(inject("references")[name].int8Sha256);
    });
  }

  it("gives the scalar loops' values and scales for channels last and first, across kernel chunks", () => {
    const cases: [number[], number][] = [[[300, 1000], 1], [[1000, 300], 0], [[16, 3, 5, 5], 0], [[7, 13], 1]];
    for (const [dims, axis] of cases) {
      const data = uniform(dims.reduce((a, b) => a * b, 1), dims[0]!, 0.5);
      const kernel = quantizeWeightsPerChannel(data, dims, axis, 8);
      provideCompressionKernels(undefined);
      try {
        const reference = quantizeWeightsPerChannelScalar(data, dims, axis, 8);
        expect(kernel.values).toEqual(reference.values);
        expect(kernel.scales).toEqual(reference.scales);
        expect(kernel.error.maxAbsError).toBe(reference.error.maxAbsError);
        expect(Math.abs(kernel.error.sqnrDb - reference.error.sqnrDb)).toBeLessThan(1e-9 * reference.error.sqnrDb);
      } finally {
        provideCompressionKernels(kernelModules.plain);
      }
    }
  });
});
