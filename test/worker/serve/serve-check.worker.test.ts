// The serve check: bytes that load, run once at batch 1 on an input made from the signature and answer finite
// values on every engine that would serve them pass; anything else is variant_failed with the output or the
// runtime's message. In workerd, where onnxruntime-web and the kernel engine run as they do when serving.
import { describe, expect, it } from "vitest";
import { quantizeModel } from "@worker/compress/quantize";
import { DomainError } from "@worker/domain-error";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { checkInput, checkServes } from "@worker/serve/serve-check";
import { buildMlp, buildNonFiniteMlp } from "@test/support/models";

const MLP_INPUTS = [{ name: "input", type: "float32", shape: ["N", 8] }];

async function failure(run: Promise<unknown>): Promise<DomainError> {
  const err = await run.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  expect((err as DomainError).code).toBe("variant_failed");
  return err as DomainError;
}

/** input [N,8] -> MatMul(W) -> `op` -> logits: a one-layer model around a node the test chooses. */
function oneLayer(extra: ReturnType<typeof makeNode>[], inits: ReturnType<typeof makeTensor>[], weight = "fc.weight") {
  const graph = makeGraph(
    [makeNode("MatMul", ["input", weight], ["mm"], "fc/MatMul"), ...extra],
    "one_layer",
    [makeValueInfo("input", DT.FLOAT, ["N", 8])],
    [makeValueInfo("logits", DT.FLOAT, ["N", 4])],
    inits,
  );
  return encodeModel(makeModel(graph, { "": 13 }));
}

describe("checkServes", () => {
  it("passes an fp32 MLP on onnxruntime-web and on the kernel engine that serves it", async () => {
    expect(await checkServes(buildMlp([8, 16, 4], 1), MLP_INPUTS)).toEqual({ engines: ["onnxruntime-web", "kernels"] });
  });

  it("passes the MLP's int8 variant", async () => {
    const int8 = encodeModel(quantizeModel(decodeModel(buildMlp([8, 16, 4], 1)), { bits: 8 }).model);
    expect((await checkServes(int8, MLP_INPUTS)).engines).toContain("onnxruntime-web");
  });

  it("fails a variant whose output is not finite, naming the output", async () => {
    const err = await failure(checkServes(buildNonFiniteMlp(), MLP_INPUTS));
    expect(err.message).toMatch(/output 'logits' is not finite on onnxruntime-web \(value 0 is (NaN|-?Infinity)\)/);
  });

  it("fails a Log of a negative constant, naming the output", async () => {
    const minusOne = makeTensor("minus_one", DT.FLOAT, [4], new Float32Array(4).fill(-1));
    const weight = makeTensor("fc.weight", DT.FLOAT, [8, 4], new Float32Array(32).fill(0.1));
    const bytes = oneLayer(
      [makeNode("Log", ["minus_one"], ["nan"], "bad/Log"), makeNode("Add", ["mm", "nan"], ["logits"], "bad/Add")],
      [weight, minusOne],
    );
    expect((await failure(checkServes(bytes, MLP_INPUTS))).message).toMatch(/output 'logits' is not finite .*NaN/);
  });

  it("fails bytes with an op onnxruntime-web lacks, with the runtime's message", async () => {
    const weight = makeTensor("fc.weight", DT.FLOAT, [8, 4], new Float32Array(32).fill(0.1));
    const bytes = oneLayer([makeNode("NoSuchKernel", ["mm"], ["logits"], "odd/NoSuchKernel")], [weight]);
    expect((await failure(checkServes(bytes, MLP_INPUTS))).message).toMatch(/^the variant does not load in onnxruntime-web: .*NoSuchKernel/);
  });

  it("fails a DequantizeLinear whose scale length does not match its axis, with the runtime's message", async () => {
    const q = makeTensor("fc.weight_q", DT.INT8, [8, 4], new Int8Array(32).fill(3));
    const scale = makeTensor("fc.weight_scale", DT.FLOAT, [3], new Float32Array([0.1, 0.1, 0.1]));
    const graph = makeGraph(
      [
        makeNode("DequantizeLinear", ["fc.weight_q", "fc.weight_scale"], ["fc.weight"], "fc.weight/DequantizeLinear", { axis: 1 }),
        makeNode("MatMul", ["input", "fc.weight"], ["logits"], "fc/MatMul"),
      ],
      "bad_scale",
      [makeValueInfo("input", DT.FLOAT, ["N", 8])],
      [makeValueInfo("logits", DT.FLOAT, ["N", 4])],
      [q, scale],
    );
    const err = await failure(checkServes(encodeModel(makeModel(graph, { "": 13 })), MLP_INPUTS));
    expect(err.message).toMatch(/^the variant does not (load|run) in onnxruntime-web: \S/);
  });

  it("feeds token ids that index any embedding table (0 or 1) and passes a Gather over a two-row table on both engines", async () => {
    const graph = makeGraph(
      [makeNode("Gather", ["table", "ids"], ["embedded"], "embed/Gather", { axis: 0 })],
      "embed",
      [makeValueInfo("ids", DT.INT64, ["batch", "tokens"])],
      [makeValueInfo("embedded", DT.FLOAT, ["batch", "tokens", 4])],
      [makeTensor("table", DT.FLOAT, [2, 4], new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]))],
    );
    const inputs = [{ name: "ids", type: "int64", shape: ["batch", "tokens"] }];
    expect(await checkServes(encodeModel(makeModel(graph, { "": 13 })), inputs)).toEqual({ engines: ["onnxruntime-web", "kernels"] });
  });
});

describe("checkServes on the kernel engine alone (kernelsOnly, a big model's variant)", () => {
  it("checks there only where the engine covers the graph, and on onnxruntime-web where it does not", async () => {
    const int8 = encodeModel(quantizeModel(decodeModel(buildMlp([8, 16, 4], 1)), { bits: 8 }).model);
    const checked = await checkServes(int8, MLP_INPUTS, undefined, { kernelsOnly: true });
    expect(checked).toMatchObject({ engines: ["kernels"], kernels: { kernels: expect.any(Object) } });
    // The resident bytes hold at least the int8 weights (8x16 + 16x4).
    expect(checked.kernels!.residentBytes).toBeGreaterThanOrEqual(8 * 16 + 16 * 4);
    const minusOne = makeTensor("minus_one", DT.FLOAT, [4], new Float32Array(4).fill(-1));
    const weight = makeTensor("fc.weight", DT.FLOAT, [8, 4], new Float32Array(32).fill(0.1));
    // Atan is outside the engine's table: the check runs on onnxruntime-web, which finds the NaN.
    const uncovered = oneLayer(
      [makeNode("Log", ["minus_one"], ["nan"], "bad/Log"), makeNode("Atan", ["nan"], ["angle"], "bad/Atan"), makeNode("Add", ["mm", "angle"], ["logits"], "bad/Add")],
      [weight, minusOne],
    );
    expect((await failure(checkServes(uncovered, MLP_INPUTS, undefined, { kernelsOnly: true }))).message).toMatch(/not finite on onnxruntime-web/);
  });

  it("fails a variant whose output is not finite on the engine, naming the output", async () => {
    const err = await failure(checkServes(buildNonFiniteMlp(), MLP_INPUTS, undefined, { kernelsOnly: true }));
    expect(err.message).toMatch(/output 'logits' is not finite on the kernel engine/);
  });
});

describe("checkServes on an image of symbolic size", () => {
  /** image [N,1,H,W] -> Conv(2, 3x3, no padding) -> out: a 1x1 image is too small for it. */
  const convBytes = (fill: number) =>
    encodeModel(
      makeModel(
        makeGraph(
          [makeNode("Conv", ["image", "w"], ["out"], "conv", { kernel_shape: [3, 3] })],
          "conv",
          [makeValueInfo("image", DT.FLOAT, ["N", 1, "H", "W"])],
          [makeValueInfo("out", DT.FLOAT, ["N", 2, "H2", "W2"])],
          [makeTensor("w", DT.FLOAT, [2, 1, 3, 3], new Float32Array(18).fill(fill))],
        ),
        { "": 13 },
      ),
    );
  const inputs = [{ name: "image", type: "float32", shape: ["N", 1, "H", "W"] }];

  it("asks the original which size suits the model when a 1x1 image does not run, and checks the variant there", async () => {
    const original = convBytes(0.5);
    const check = await checkServes(convBytes(0.25), inputs, async () => original);
    expect(check.skipped).toBeUndefined();
    expect(check.engines).toContain("onnxruntime-web");
  });

  it("still refuses a variant whose outputs are not finite at the size the original runs on", async () => {
    const err = await failure(checkServes(convBytes(Number.NaN), inputs, async () => convBytes(0.5)));
    expect(err.message).toMatch(/output 'out' is not finite on onnxruntime-web/);
  });
});

describe("checkInput", () => {
  const seq = () => {
    let i = 0;
    const values = [0.1, 0.9, 0.4, 0.6];
    return () => values[i++ % values.length]!;
  };

  it("sets symbolic and unknown dims to 1 and draws floats in [-1, 1)", () => {
    const t = checkInput({ name: "x", type: "float32", shape: ["N", null, 2] }, seq())!;
    expect(t.dims).toEqual([1, 1, 2]);
    expect(Array.from(t.data as Float32Array)).toEqual([0.1 * 2 - 1, 0.9 * 2 - 1].map(Math.fround));
  });

  it("gives integer inputs 0 or 1, a scalar integer 0, and bool false", () => {
    expect(Array.from(checkInput({ name: "ids", type: "int64", shape: [1, 4] }, seq())!.data as BigInt64Array)).toEqual([0n, 1n, 0n, 1n]);
    expect(Array.from(checkInput({ name: "ids", type: "int32", shape: [4] }, seq())!.data as Int32Array)).toEqual([0, 1, 0, 1]);
    const cond = checkInput({ name: "cond", type: "int64", shape: [] }, () => 0.9)!;
    expect([cond.dims, Array.from(cond.data as BigInt64Array)]).toEqual([[], [0n]]);
    expect(Array.from(checkInput({ name: "mask", type: "bool", shape: [3] }, () => 0.9)!.data as Uint8Array)).toEqual([0, 0, 0]);
  });

  it("makes nothing for an element type no request can send (the check then reports it skipped)", async () => {
    expect(checkInput({ name: "s", type: "string", shape: [1] }, seq())).toBeNull();
    expect(await checkServes(buildMlp([8, 16, 4], 1), [{ name: "s", type: "string", shape: [1] }])).toMatchObject({ engines: [] });
  });
});
