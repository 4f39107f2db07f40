// Edited copies of decoded messages keep proto2 defaults that live on the prototype (a node's domain absent on the
// wire reads "", not undefined), so later passes still recognise standard-domain nodes.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compressModel } from "@worker/compress/pipeline";
import { quantizeModel } from "@worker/compress/quantize";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel } from "@worker/onnx/codec";
import { edited } from "@worker/onnx/edit";

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../fixtures/models/${name}.onnx`, import.meta.url)));

describe("edited", () => {
  it("keeps a default read from the prototype, unlike a spread", () => {
    const node = decodeModel(fixture("mnist-mlp")).graph!.node[0]!;
    expect(Object.prototype.hasOwnProperty.call(node, "domain")).toBe(false); // absent on the wire
    expect(edited(node, { input: ["x"] }).domain).toBe("");
    expect(edited(node, { input: ["x"] }).input).toEqual(["x"]);
  });

  it("leaves every node of a quantized and of a channel-pruned int4 model in the standard domain", () => {
    const model = decodeModel(fixture("mnist-cnn"));
    for (const m of [
      quantizeModel(model, { bits: 8 }).model,
      compressModel(model, RecipeSchema.parse({ prune: { structure: "channel", sparsity: 0.5 }, quantize: { bits: 4 } })).bytes,
    ]) {
      const nodes = m instanceof Uint8Array ? decodeModel(m).graph!.node : m.graph!.node;
      for (const n of nodes) expect(n.domain).toBe("");
    }
  });
});
