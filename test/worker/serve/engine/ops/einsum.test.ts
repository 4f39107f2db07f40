// Einsum against onnxruntime-node on the forms exporters write: attention's scores and context, batched and plain
// matrix products, a row-wise dot, an outer product, a transpose, a sum over an index, ellipsis, the implicit
// output, a product to a scalar, and a constant operand (float, and its int8/int4 variants); at odd sizes, batch 1
// and 3. A diagonal is not covered.
import { describe, expect, it } from "vitest";
import { decodeModel } from "@worker/onnx/codec";
import { kernelCoverage } from "@worker/serve/engine";
import { compare, graphOf, inputMaker } from "@test/support/op-graphs";
import { plainKernelModule } from "@test/support/kernels";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { maxRelDiff, runKernels, runReference } from "@test/support/engine";

const { int, live, constF } = inputMaker(20261209);

describe("Einsum against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`two operands, batch ${batch}`, async () => {
      const [h, q, k, d, m] = [int(1, 3), int(2, 9), int(2, 9), int(2, 7), int(2, 6)];
      const cases: [string, number[], number[], number][] = [
        ["bhqd,bhkd->bhqk", [batch, h, q, d], [batch, h, k, d], 4],
        ["bhqk,bhkd->bhqd", [batch, h, q, k], [batch, h, k, d], 4],
        ["bij,bjk->bik", [batch, q, d], [batch, d, m], 3],
        ["bij,bjk", [batch, q, d], [batch, d, m], 2], // implicit: b is used twice, so summed: "ik"
        ["ij,jk->ik", [q, d], [d, m], 2],
        ["bi,bi->b", [batch, d], [batch, d], 1],
        ["i,j->ij", [q], [m], 2],
        ["...ij,...jk->...ik", [batch, h, q, d], [batch, h, d, m], 4],
        ["bqd,bkd->bkq", [batch, q, d], [batch, k, d], 3],
        ["bij,bij->", [batch, q, d], [batch, q, d], 0],
        ["bij,jk->bk", [batch, q, d], [d, m], 2],
      ];
      for (const [equation, da, db, rank] of cases) {
        const a = live("a", da);
        const b = live("b", db);
        await compare(graphOf("Einsum", [a, b], { equation }, rank, 12), [a, b], 1e-5);
      }
    });

    it(`one operand: a transpose, a sum over an index, batch ${batch}`, async () => {
      const x = live("x", [batch, int(2, 7), int(2, 7)]);
      for (const [equation, rank] of [["bij->bji", 3], ["bij->bj", 2], ["bij->", 0], ["...j->j...", 3]] as const) {
        await compare(graphOf("Einsum", [x], { equation }, rank, 12), [x]);
      }
    });

    it(`a constant operand (a projection written as Einsum), batch ${batch}`, async () => {
      const x = live("x", [batch, int(2, 9), 8]);
      await compare(graphOf("Einsum", [x, constF("w", [8, 5])], { equation: "bnd,dk->bnk" }, 3, 12), [x]);
    });
  }

  it("serves the int8 and int4 variants of a constant operand (DequantizeLinear into Einsum) as onnxruntime-node runs them", async () => {
    const x = live("x", [3, 7, 16]) as { name: string; dims: number[]; data: Float32Array };
    const fp32 = graphOf("Einsum", [x, constF("w", [16, 4, 6])], { equation: "abc,cde->abde" }, 4, 13);
    for (const bits of [8, 4]) {
      const variant = compressModel(decodeModel(fp32), RecipeSchema.parse({ quantize: { bits } }));
      expect(variant.tensors.map((t) => t.name)).toEqual(["w"]);
      expect(kernelCoverage(decodeModel(variant.bytes), plainKernelModule)).toBeNull();
      const feeds = { x: { dims: x.dims, data: x.data } };
      const ref = Object.values(await runReference(variant.bytes, feeds))[0]!;
      const got = Object.values((await runKernels(variant.bytes, feeds)).outputs)[0]!;
      expect(got.dims).toEqual(ref.dims);
      expect(maxRelDiff(got.data, ref.data)).toBeLessThan(1e-5);
    }
  });

  it("leaves a diagonal to onnxruntime-web, naming it", () => {
    const x = live("x", [3, 3]);
    expect(kernelCoverage(decodeModel(graphOf("Einsum", [x], { equation: "ii->i" }, 1, 12)), plainKernelModule)).toMatch(/a repeated index in 'ii'/);
  });
});
