// Models in half precision on the kernel engine, against onnxruntime-node: float16 inputs are widened exactly, values
// are carried (and weights computed) in float32, and float16 outputs come back as half bits. A half MLP and its int8
// and int4 variants (the integer kernels serve them), and a float32 graph that casts its answer to float16.
import { describe, expect, it } from "vitest";
import type { ModelProto } from "onnx-buf";
import { fromHalf, toHalf } from "@formats/half.js";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { provideCompressionKernels } from "@worker/compress/simd-quantize";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { createKernelSession } from "@worker/serve/engine";
import { plainKernelModule } from "@test/support/kernels";
import { uniform } from "@test/support/numbers";
import { ort, runReference } from "@test/support/ort-node";

provideCompressionKernels(plainKernelModule);

const half = (name: string, dims: number[], seed: number, a: number) =>
  makeTensor(name, DT.FLOAT16, dims, Uint16Array.from(uniform(dims.reduce((x, y) => x * y, 1), seed, a), toHalf));

/** x [N, 64] float16 -> MatMul(W [64, 96]) -> Add(b) -> Relu -> MatMul(V [96, 10]) -> y float16. */
function halfMlp(): ModelProto {
  return makeModel(
    makeGraph(
      [
        makeNode("MatMul", ["x", "W"], ["h"], "fc1"),
        makeNode("Add", ["h", "b"], ["hb"], "bias"),
        makeNode("Relu", ["hb"], ["r"], "relu"),
        makeNode("MatMul", ["r", "V"], ["y"], "fc2"),
      ],
      "half-mlp",
      [makeValueInfo("x", DT.FLOAT16, ["N", 64])],
      [makeValueInfo("y", DT.FLOAT16, ["N", 10])],
      [half("W", [64, 96], 1, 0.25), half("b", [96], 2, 0.1), half("V", [96, 10], 3, 0.25)],
    ),
    { "": 13 },
  );
}

const values = (bits: Uint16Array) => Float32Array.from(bits, fromHalf);
const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** The engine's answer to `bytes` on x [3, 64] against onnxruntime-node's, both read from half bits. */
async function expectMatches(bytes: Uint8Array, x: Float32Array, kernel: string) {
  const { session, reason } = createKernelSession(decodeModel(bytes), plainKernelModule);
  expect(reason ?? null).toBeNull();
  const bits = Uint16Array.from(x, toHalf);
  const got = (await session!.run({ x: { type: "float16", dims: [3, 64], data: bits } })).y!;
  const ref = (await runReference(bytes, { x: new ort.Tensor("float16", bits, [3, 64]) })).y!;
  expect(got.type).toBe("float16");
  expect(got.data).toBeInstanceOf(Uint16Array);
  expect(got.dims).toEqual([3, 10]);
  const want = values(ref.data as Uint16Array);
  // onnxruntime rounds each product's sum to half; the engine rounds once, at the output: within 1% of the range.
  const diff = values(got.data as Uint16Array).reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0);
  expect(diff).toBeLessThanOrEqual(0.01 * maxAbs(want));
  expect(Object.values(session!.kernels)).toContain(kernel);
}

describe("models in half precision on the kernel engine", () => {
  const x = uniform(3 * 64, 4, 1);

  it("runs a float16 MLP, its weights widened to float32", async () => {
    await expectMatches(encodeModel(halfMlp()), x, "f32");
  });

  it.each([
    ["int8", { bits: 8 }, "qs8"],
    ["int4", { bits: 4 }, "qs4"],
  ])("runs its %s variant (DequantizeLinear then a Cast to float16) on the integer kernels", async (_label, quantize, kernel) => {
    const bytes = compressModel(halfMlp(), RecipeSchema.parse({ quantize })).bytes;
    await expectMatches(bytes, x, kernel);
  });

  it("answers a float32 graph's Cast to float16 as half bits", async () => {
    const bytes = encodeModel(
      makeModel(
        makeGraph([makeNode("Cast", ["x"], ["y"], "to_half", { to: DT.FLOAT16 })], "cast", [makeValueInfo("x", DT.FLOAT, [2])], [makeValueInfo("y", DT.FLOAT16, [2])]),
        { "": 13 },
      ),
    );
    const { session } = createKernelSession(decodeModel(bytes), plainKernelModule);
    const got = (await session!.run({ x: { type: "float32", dims: [2], data: Float32Array.of(1 + 2 ** -11, -65504) } })).y!;
    expect(got).toEqual({ type: "float16", dims: [2], data: Uint16Array.of(0x3c00, 0xfbff) });
  });
});
