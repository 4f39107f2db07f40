// ConvTranspose on the kernel engine against onnxruntime-node: strides, pads, output_padding, dilations, groups,
// auto_pad and output_shape at odd sizes, batch 1 and 3, float within 1e-5 relative; a bias and Relu fused; int8 and
// int4 weights (DequantizeLinear per output channel, axis 1) within 3e-2 (the engine quantizes activations too);
// the small zoo's Conv encoder / ConvTranspose decoder; and 1-D ConvTranspose (an audio decoder's upsampling) as one row
// of the 2-D form.
import { describe, expect, it } from "vitest";
import type { TensorProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { packInt4 } from "@worker/onnx/encoding";
import { makeTensor } from "@worker/onnx/tensor";
import { maxRelDiff, runKernels, runReference } from "@test/support/engine";
import { compare, graphOf, inputMaker, type Attr } from "@test/support/op-graphs";
import { zooModel } from "@test/support/zoo";

const { next, int, live, constF } = inputMaker(20261203);
const constantOf = (i: ReturnType<typeof constF>) => (i as { constant: TensorProto }).constant;

describe("ConvTranspose on the kernel engine against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`strides, pads, output_padding and dilations, with and without bias, batch ${batch}`, async () => {
      const cases: [number, number, Attr][] = [
        [3, 3, {}],
        [3, 3, { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }],
        [4, 4, { strides: [2, 2], pads: [1, 1, 1, 1] }],
        [2, 2, { strides: [2, 2] }],
        [3, 2, { strides: [2, 3], pads: [0, 1, 2, 0] }],
        [3, 3, { dilations: [2, 2], pads: [1, 2, 1, 0] }],
        [5, 3, { strides: [3, 2], dilations: [1, 2], output_padding: [2, 1] }],
        [1, 1, { strides: [2, 2] }],
      ];
      for (const [kh, kw, attrs] of cases) {
        const [C, Mo] = [int(1, 6), int(1, 6)];
        const [H, W] = [int(2, 9), int(2, 9)];
        const withBias = [live("x", [batch, C, H, W]), constF("w", [C, Mo, kh, kw]), constF("b", [Mo])];
        await compare(graphOf("ConvTranspose", withBias, attrs, 4), withBias);
        const noBias = withBias.slice(0, 2);
        await compare(graphOf("ConvTranspose", noBias, { kernel_shape: [kh, kw], ...attrs }, 4), noBias);
      }
    });

    it(`groups (2 channels each, and one per channel), batch ${batch}`, async () => {
      const [H, W] = [int(3, 8), int(3, 8)];
      const pairs = [live("x", [batch, 4, H, W]), constF("w", [4, 3, 3, 3]), constF("b", [6])];
      await compare(graphOf("ConvTranspose", pairs, { group: 2, strides: [2, 2], pads: [1, 0, 0, 1] }, 4), pairs);
      const each = [live("x", [batch, 5, H, W]), constF("w", [5, 1, 4, 4])];
      await compare(graphOf("ConvTranspose", each, { group: 5, strides: [2, 2], pads: [1, 1, 1, 1] }, 4), each);
    });

    it(`auto_pad SAME_UPPER, SAME_LOWER and VALID, and output_shape with and without auto_pad, batch ${batch}`, async () => {
      const [C, Mo] = [int(1, 5), int(1, 5)];
      const [H, W] = [int(3, 8), int(3, 8)];
      const ins = [live("x", [batch, C, H, W]), constF("w", [C, Mo, 3, 3]), constF("b", [Mo])];
      for (const auto_pad of ["SAME_UPPER", "SAME_LOWER", "VALID"]) {
        await compare(graphOf("ConvTranspose", ins, { auto_pad, strides: [2, 2] }, 4), ins);
      }
      for (const extra of [0, 1]) {
        const output_shape = [2 * H - 1 + extra, 2 * W + extra];
        await compare(graphOf("ConvTranspose", ins, { strides: [2, 2], output_shape }, 4), ins);
        for (const auto_pad of ["SAME_UPPER", "SAME_LOWER"]) await compare(graphOf("ConvTranspose", ins, { strides: [2, 2], output_shape, auto_pad }, 4), ins);
      }
    });

    it(`a bias and Relu fused after it, batch ${batch}`, async () => {
      const [C, Mo, H, W] = [3, 4, int(3, 7), int(3, 7)];
      const graph = makeGraph(
        [
          makeNode("ConvTranspose", ["x", "w", "b"], ["t"], "up", { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1], kernel_shape: [3, 3] }),
          makeNode("Relu", ["t"], ["y"], "relu"),
        ],
        "up-relu",
        [makeValueInfo("x", DT.FLOAT, [batch, C, H, W])],
        [makeValueInfo("y", DT.FLOAT, [null, null, null, null])],
        [constantOf(constF("w", [C, Mo, 3, 3])), constantOf(constF("b", [Mo]))],
      );
      await compare(encodeModel(makeModel(graph)), [live("x", [batch, C, H, W])]);
    });

    it(`int8 and int4 weights per output channel run on the quantized kernels, batch ${batch}`, async () => {
      const [C, Mo, H, W] = [int(8, 40), int(2, 6), int(3, 7), int(3, 7)];
      const x = live("x", [batch, C, H, W]);
      const scale = Float32Array.from({ length: Mo }, () => 0.01 + next() * 0.02);
      for (const [type, lo, hi, opset] of [[DT.INT8, -127, 127, 13], [DT.INT4, -7, 7, 21]] as const) {
        const q = Int8Array.from({ length: C * Mo * 9 }, () => int(lo, hi));
        const graph = makeGraph(
          [
            makeNode("DequantizeLinear", ["q", "s"], ["w"], "dq", { axis: 1 }),
            makeNode("ConvTranspose", ["x", "w", "b"], ["y"], "up", { strides: [2, 2], pads: [1, 1, 1, 1] }),
          ],
          "up-q",
          [makeValueInfo("x", DT.FLOAT, [batch, C, H, W])],
          [makeValueInfo("y", DT.FLOAT, [null, null, null, null])],
          [makeTensor("q", type, [C, Mo, 3, 3], type === DT.INT4 ? packInt4(q) : q), makeTensor("s", DT.FLOAT, [Mo], scale), constantOf(constF("b", [Mo]))],
        );
        const bytes = encodeModel(makeModel(graph, { "": opset }, opset >= 21 ? 10 : 8));
        await compare(bytes, [x], 3e-2);
        const { session } = await runKernels(bytes, { x: { dims: x.dims, data: (x as { data: Float32Array }).data } });
        expect(Object.values(session.kernels), `type ${type}`).toEqual([type === DT.INT4 ? "qs4" : "qs8"]);
      }
    });
  }

  it("runs the small zoo's Conv encoder / ConvTranspose decoder within 1e-4 of onnxruntime-node", async () => {
    const m = await zooModel("convtranspose");
    const feeds = Object.fromEntries(Object.entries(m.inputs(1)).map(([k, t]) => [k, { dims: [...t.dims], data: t.data as Float32Array }]));
    const { outputs } = await runKernels(m.bytes, feeds);
    const ref = await runReference(m.bytes, feeds);
    for (const [name, want] of Object.entries(ref)) {
      expect(outputs[name]!.dims).toEqual(want.dims);
      expect(maxRelDiff(outputs[name]!.data, want.data), name).toBeLessThan(1e-4);
    }
  });
});

describe("1-D ConvTranspose on the kernel engine against onnxruntime-node (as one row of the 2-D form)", () => {
  for (const batch of [1, 3]) {
    it(`strides, pads, output_padding, dilations, groups, auto_pad and output_shape over [N, C, L], batch ${batch}`, async () => {
      const cases: [number, number, number, Attr][] = [
        [3, 4, 3, {}],
        [4, 3, 4, { strides: [2], pads: [1, 1] }],
        [2, 5, 5, { strides: [3], dilations: [2], output_padding: [2] }],
        [4, 2, 3, { group: 2, strides: [2], pads: [1, 0], output_padding: [1] }],
        [3, 3, 3, { strides: [2], auto_pad: "SAME_UPPER" }],
        [3, 2, 4, { strides: [2], output_shape: [0] }],
      ];
      for (const [C, Mg, k, attrs] of cases) {
        const group = (attrs?.group as number | undefined) ?? 1;
        const L = int(3, 17);
        const shaped = attrs?.output_shape ? { ...attrs, output_shape: [L * 2 + 1] } : attrs;
        const ins = [live("x", [batch, C, L]), constF("w", [C, Mg, k]), constF("b", [Mg * group])];
        await compare(graphOf("ConvTranspose", ins, { kernel_shape: [k], ...shaped }, 3), ins);
      }
    });
  }

  it("runs int8 weights (DequantizeLinear per output channel, axis 1) on the int8 kernel within 3e-2", async () => {
    const [C, M, k, L] = [40, 6, 4, int(5, 12)];
    const x = live("x", [2, C, L]);
    const graph = makeGraph(
      [makeNode("DequantizeLinear", ["q", "s"], ["w"], "dq", { axis: 1 }), makeNode("ConvTranspose", ["x", "w"], ["y"], "up", { kernel_shape: [k], strides: [2], pads: [1, 1] })],
      "convtranspose1d-int8",
      [makeValueInfo("x", DT.FLOAT, [2, C, L])],
      [makeValueInfo("y", DT.FLOAT, [null, null, null])],
      [makeTensor("q", DT.INT8, [C, M, k], Int8Array.from({ length: C * M * k }, () => int(-127, 127))), makeTensor("s", DT.FLOAT, [M], Float32Array.from({ length: M }, () => 0.01 + next() * 0.02))],
    );
    const bytes = encodeModel(makeModel(graph));
    await compare(bytes, [x], 3e-2);
    const feeds = { x: { dims: x.dims, data: (x as { data: Float32Array }).data } };
    expect(Object.values((await runKernels(bytes, feeds)).session.kernels)[0]).toMatch(/qs8|qu7/);
  });
});
