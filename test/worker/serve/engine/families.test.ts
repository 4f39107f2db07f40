// Other architectures as torch.onnx writes them (zoo.py --set families, small: 64 x 64 images, random weights with
// BatchNorm statistics warmed): torchvision's CNN families, ConvNeXt, ViT and Swin, a YOLO-style detector, and a 1-D
// keyword spotter on 40 log-mel bands (Conv1d, depthwise and dilated, MaxPool1d). The
// kernel engine covers every one, FP32 within 1e-4 of onnxruntime-node on the same graph at batch 2, with the
// exporters' chains fused where they are written out (SiLU as Sigmoid then Mul, HardSwish as HardSigmoid then Mul,
// GELU through Erf, layer norm through ReduceMean); and each int8 weight-only variant runs on the engine
// near onnxruntime-node's run of that variant. The engine quantizes activations to 7 or 8 bits per row, and these
// untrained networks amplify that error smoothly with depth (GoogLeNet: cosine 0.9995 after its first inception
// block, 0.93 at its last, 0.96 at the logits), so the bar is a cosine of 0.9: a wrong kernel or layout gives near 0.
import { describe, expect, it } from "vitest";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { parseModelBytes } from "@worker/catalog/models";
import type { NodeTiming } from "@worker/serve/engine";
import { loadKernels, maxRelDiff, runReference, type Feeds } from "@test/support/engine";
import { cosine, zooModels, type ZooModel } from "@test/support/zoo";

const models = await zooModels("small", "families");

/** The model's seeded input batch (images, or the spotter's bands) as the engine and the reference take it. */
function feedsOf(m: ZooModel, seed: number): Feeds {
  const [name, t] = Object.entries(m.inputs(seed))[0]!;
  return { [name]: { dims: [...t.dims], data: t.data as Float32Array } };
}

async function engineRun(bytes: Uint8Array, feeds: Feeds) {
  const session = loadKernels(bytes);
  const profile: NodeTiming[] = [];
  const [name, t] = Object.entries(feeds)[0]!;
  const out = await session.run({ [name]: { type: "float32", ...t } }, { profile });
  await session.release();
  return { logits: out.logits!.data as Float32Array, ops: new Set(profile.map((p) => p.op)) };
}

/** The fused activations each family's run must step through (what fusion.ts makes of the exporter's chains). */
const FUSED: Record<string, string[]> = {
  efficientnet_b0: ["Swish"],
  mobilenet_v3_large: ["HardSwish"],
  convnext: ["Gelu", "LayerNormalization"],
  vit: ["Gelu", "LayerNormalization"],
  swin: ["Gelu", "LayerNormalization"],
  yolo: ["Swish"],
};

describe("other architectures on the kernel engine", () => {
  it("has the twelve", () => {
    expect(models.map((m) => m.name).sort()).toEqual([
      "convnext", "densenet121", "efficientnet_b0", "googlenet", "kws", "mobilenet_v3_large", "regnet_y_400mf", "shufflenet_v2", "squeezenet", "swin", "vit", "yolo",
    ]);
  });

  for (const m of models) {
    it(`${m.name}: FP32 on the engine within 1e-4 of onnxruntime-node, batch 2`, async () => {
      const feeds = feedsOf(m, 1);
      const want = (await runReference(m.bytes, feeds)).logits!.data;
      const got = await engineRun(m.bytes, feeds);
      expect(maxRelDiff(got.logits, want)).toBeLessThan(1e-4);
      expect((FUSED[m.name] ?? []).filter((op) => !got.ops.has(op))).toEqual([]);
    });

    it(`${m.name}: its int8 weight-only variant on the engine near onnxruntime-node's run of the variant`, async () => {
      const variant = compressModel(parseModelBytes(m.bytes), RecipeSchema.parse({ quantize: { bits: 8 } }), undefined, m.bytes.byteLength).bytes;
      const feeds = feedsOf(m, 2);
      const want = (await runReference(variant, feeds)).logits!.data;
      const got = await engineRun(variant, feeds);
      expect(cosine(got.logits, want)).toBeGreaterThan(0.9);
    });
  }
});
