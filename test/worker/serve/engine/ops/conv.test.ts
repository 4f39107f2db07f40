// Conv against onnxruntime-node beyond the im2col path of ops.test.ts: depthwise layers (the direct kernel: 3x3 and
// 5x5 at strides 1 and 2, other filters and dilations on its general path, the MobileNet block's BatchNormalization
// and Clip fused, int8 weights dequantized at load), 1x1 filters (the transposed plane at stride 1 without
// padding: the direct pointwise kernel on fp32 weights, the transposed plane on quantized or sparse ones; im2col
// otherwise), and other filters read as patch planes (fp32 ones over few inputs and int8 ones into the pointwise
// kernels), at odd sizes, batch 1 and 3, and planes of several GEMM tiles, within 1e-5 relative (int8 weights 3e-2:
// activations are quantized too). 1-D convolutions (audio front-ends, keyword spotters) run as one-row 2-D ones on
// the same routes.
import { describe, expect, it } from "vitest";
import type { TensorProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { maxRelDiff, runKernels, runReference } from "@test/support/engine";
import { compare, graphOf, inputMaker, type Attr } from "@test/support/op-graphs";
import { zooModel } from "@test/support/zoo";
import { SMALL_QUANTIZED_K, TILE_FLOATS } from "@worker/serve/engine/ops/conv";

const { next, int, rand, live, constF } = inputMaker(20261202);
const constantOf = (i: ReturnType<typeof constF>) => (i as { constant: TensorProto }).constant;

describe("Conv on the kernel engine against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`depthwise 3x3 and 5x5 at strides 1 and 2 with symmetric, asymmetric and SAME padding, batch ${batch}`, async () => {
      for (const k of [3, 5]) {
        for (const s of [1, 2]) {
          const pads: Attr[] = [
            { pads: [0, 0, 0, 0] },
            { pads: [(k - 1) / 2, (k - 1) / 2, (k - 1) / 2, (k - 1) / 2] },
            { pads: [0, 1, k - 1, 2] },
            { auto_pad: "SAME_UPPER" },
            { auto_pad: "SAME_LOWER" },
          ];
          for (const p of pads) {
            const C = int(1, 7);
            const [H, W] = [int(k, 13), int(k, 19)];
            const ins = [live("x", [batch, C, H, W]), constF("w", [C, 1, k, k]), constF("b", [C])];
            await compare(graphOf("Conv", ins, { kernel_shape: [k, k], strides: [s, s], group: C, ...p }, 4), ins);
          }
        }
      }
    });

    it(`depthwise on the general and scalar paths: dilation 2, 7x7, 3x1, stride 3, mixed strides, no bias, batch ${batch}`, async () => {
      const cases: [number, number, Attr][] = [
        [3, 3, { dilations: [2, 2], pads: [2, 2, 2, 2] }],
        [7, 7, { pads: [3, 3, 3, 3] }],
        [3, 1, { pads: [1, 0, 1, 0] }],
        [3, 3, { strides: [3, 3], pads: [1, 1, 1, 1] }],
        [3, 3, { strides: [1, 2], pads: [1, 1, 1, 1] }],
        [5, 5, { dilations: [1, 2], pads: [2, 4, 1, 3] }],
      ];
      for (const [kh, kw, attrs] of cases) {
        const C = int(2, 6);
        const [H, W] = [int(9, 14), int(9, 14)];
        const ins = [live("x", [batch, C, H, W]), constF("w", [C, 1, kh, kw])];
        await compare(graphOf("Conv", ins, { kernel_shape: [kh, kw], group: C, ...attrs }, 4), ins);
      }
    });

    it(`depthwise with BatchNormalization and Clip(0, 6) fused (the MobileNet block), and with int8 weights, batch ${batch}`, async () => {
      const C = 5;
      const [H, W] = [int(9, 17), int(9, 17)];
      const x = live("x", [batch, C, H, W]);
      const variance = makeTensor("v", DT.FLOAT, [C], Float32Array.from(rand(C), (v) => Math.abs(v) + 0.1));
      const graph = makeGraph(
        [
          makeNode("Conv", ["x", "w"], ["c"], "dw", { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], group: C }),
          makeNode("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], "bn"),
          makeNode("Clip", ["n", "lo", "hi"], ["y"], "relu6"),
        ],
        "dw-bn-relu6",
        [makeValueInfo("x", DT.FLOAT, [batch, C, H, W])],
        [makeValueInfo("y", DT.FLOAT, [null, null, null, null])],
        [
          constantOf(constF("w", [C, 1, 3, 3], 3)), constantOf(constF("s", [C], 2)), constantOf(constF("b", [C])), constantOf(constF("m", [C])), variance,
          makeTensor("lo", DT.FLOAT, [], Float32Array.of(0)), makeTensor("hi", DT.FLOAT, [], Float32Array.of(0.6)),
        ],
      );
      await compare(encodeModel(makeModel(graph)), [x]);
      // Weights of DequantizeLinear(int8, per channel): dequantized at load, so the fp32 tolerance holds.
      const q = Int8Array.from({ length: C * 25 }, () => int(-127, 127));
      const scale = Float32Array.from({ length: C }, () => 0.01 + next() * 0.02);
      const quantized = makeGraph(
        [
          makeNode("DequantizeLinear", ["q", "qs"], ["w"], "dq", { axis: 0 }),
          makeNode("Conv", ["x", "w", "b"], ["y"], "dw", { kernel_shape: [5, 5], pads: [2, 2, 2, 2], group: C }),
        ],
        "dw-int8",
        [makeValueInfo("x", DT.FLOAT, [batch, C, H, W])],
        [makeValueInfo("y", DT.FLOAT, [null, null, null, null])],
        [makeTensor("q", DT.INT8, [C, 1, 5, 5], q), makeTensor("qs", DT.FLOAT, [C], scale), constantOf(constF("b", [C]))],
      );
      await compare(encodeModel(makeModel(quantized)), [x]);
    });

    it(`grouped convolutions that are not depthwise: channel multiplier 2 and groups of 2 channels, batch ${batch}`, async () => {
      const C = 4;
      const [H, W] = [int(6, 11), int(6, 11)];
      const multiplier = [live("x", [batch, C, H, W]), constF("w", [2 * C, 1, 3, 3]), constF("b", [2 * C])];
      await compare(graphOf("Conv", multiplier, { kernel_shape: [3, 3], group: C, pads: [1, 1, 1, 1] }, 4), multiplier);
      const pairs = [live("x", [batch, C, H, W]), constF("w", [6, 2, 3, 3])];
      await compare(graphOf("Conv", pairs, { kernel_shape: [3, 3], group: 2, strides: [2, 2] }, 4), pairs);
    });

    it(`1x1 filters: the plane transposed at stride 1 without padding, im2col with a stride or pads, groups 1 and 3, batch ${batch}`, async () => {
      const cases: [number, Attr][] = [
        [1, {}],
        [3, {}],
        [1, { strides: [2, 2] }],
        [1, { pads: [1, 0, 0, 1] }],
        [1, { auto_pad: "SAME_UPPER" }],
      ];
      for (const [group, attrs] of cases) {
        const [C, M] = [3 * int(1, 12), 3 * int(1, 11)];
        const [H, W] = [int(1, 13), int(1, 13)];
        const ins = [live("x", [batch, C, H, W]), constF("w", [M, C / group, 1, 1]), constF("b", [M])];
        await compare(graphOf("Conv", ins, { kernel_shape: [1, 1], group, ...attrs }, 4), ins);
      }
    });

    it(`1x1 filters on int8 weights run the int8 kernel on the NCHW planes (grouped too); mostly-zero ones read the transposed plane (sparse kernels), batch ${batch}`, async () => {
      const [C, M, H, W] = [int(8, 40), int(3, 20), int(2, 9), int(2, 9)];
      const x = live("x", [batch, C, H, W]);
      const q = Int8Array.from({ length: M * C }, () => int(-127, 127));
      const scale = Float32Array.from({ length: M }, () => 0.01 + next() * 0.02);
      const graph = makeGraph(
        [makeNode("DequantizeLinear", ["q", "s"], ["w"], "dq", { axis: 0 }), makeNode("Conv", ["x", "w"], ["y"], "pw", { kernel_shape: [1, 1] })],
        "pw-int8",
        [makeValueInfo("x", DT.FLOAT, [batch, C, H, W])],
        [makeValueInfo("y", DT.FLOAT, [null, null, null, null])],
        [makeTensor("q", DT.INT8, [M, C, 1, 1], q), makeTensor("s", DT.FLOAT, [M], scale)],
      );
      const bytes = encodeModel(makeModel(graph));
      await compare(bytes, [x], 3e-2);
      const feeds = { x: { dims: x.dims, data: (x as { data: Float32Array }).data } };
      expect(Object.values((await runKernels(bytes, feeds)).session.kernels)).toEqual(["qs8-pointwise"]);
      const half = Math.floor(C / 2);
      const xg = live("xg", [batch, 2 * half, H, W]);
      const grouped = makeGraph(
        [makeNode("DequantizeLinear", ["q", "s"], ["w"], "dq", { axis: 0 }), makeNode("Conv", ["xg", "w"], ["y"], "pw", { kernel_shape: [1, 1], group: 2 })],
        "pw-int8-grouped",
        [makeValueInfo("xg", DT.FLOAT, [batch, 2 * half, H, W])],
        [makeValueInfo("y", DT.FLOAT, [null, null, null, null])],
        [makeTensor("q", DT.INT8, [2 * M, half, 1, 1], Int8Array.from({ length: 2 * M * half }, () => int(-127, 127))), makeTensor("s", DT.FLOAT, [2 * M], Float32Array.from({ length: 2 * M }, () => 0.01 + next() * 0.02))],
      );
      await compare(encodeModel(makeModel(grouped)), [xg], 3e-2);
      const sparse = rand(M * C).map((v, i) => (i % 13 === 0 ? v : 0));
      const ins = [x, { name: "w", dims: [M, C, 1, 1], constant: makeTensor("w", DT.FLOAT, [M, C, 1, 1], sparse) }];
      const sparseBytes = graphOf("Conv", ins, { kernel_shape: [1, 1] }, 4);
      await compare(sparseBytes, ins);
      expect(Object.values((await runKernels(sparseBytes, feeds)).session.kernels)).toEqual(["csr"]);
      const dense = [x, constF("w", [M, C, 1, 1])];
      expect(Object.values((await runKernels(graphOf("Conv", dense, { kernel_shape: [1, 1] }, 4), feeds)).session.kernels)).toEqual(["pointwise"]);
    });
  }

  it("runs planes of more output pixels than one GEMM tile holds (TILE_FLOATS), with a part tile: int8 1x1 and 3x3, fp32 3x3", async () => {
    const [C, M, H, W] = [12, 24, 37, 41]; // 1517 pixels: tiles of 682 rows at 24 channels, the last of 153
    expect(H * W).toBeGreaterThan(2 * Math.floor(TILE_FLOATS / M));
    expect((H * W) % Math.floor(TILE_FLOATS / M)).not.toBe(0);
    const x = live("x", [1, C, H, W]);
    for (const k of [1, 3]) {
      const q = Int8Array.from({ length: M * C * k * k }, () => int(-127, 127));
      const scale = Float32Array.from({ length: M }, () => 0.01 + next() * 0.02);
      const graph = makeGraph(
        [makeNode("DequantizeLinear", ["q", "s"], ["w"], "dq", { axis: 0 }), makeNode("Conv", ["x", "w", "b"], ["y"], "conv", { kernel_shape: [k, k], pads: k === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0] })],
        "tiles-int8",
        [makeValueInfo("x", DT.FLOAT, [1, C, H, W])],
        [makeValueInfo("y", DT.FLOAT, [null, null, null, null])],
        [makeTensor("q", DT.INT8, [M, C, k, k], q), makeTensor("s", DT.FLOAT, [M], scale), makeTensor("b", DT.FLOAT, [M], rand(M))],
      );
      await compare(encodeModel(makeModel(graph)), [x], 3e-2);
    }
    const ins = [x, constF("w", [M, C, 3, 3]), constF("b", [M])];
    await compare(graphOf("Conv", ins, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 4), ins);
  });

  it("runs a 1x1 filter whose float weights are +-scale per channel (a 1-bit variant) on the int8 pointwise kernel", async () => {
    const [C, M, H, W] = [40, 12, 7, 9];
    const x = live("x", [2, C, H, W]);
    const scales = Array.from({ length: M }, () => 0.01 + next() * 0.05);
    const signs = rand(M * C).map((v, i) => (v < 0 ? -1 : 1) * scales[Math.floor(i / C)]!);
    const ins = [x, { name: "w", dims: [M, C, 1, 1], constant: makeTensor("w", DT.FLOAT, [M, C, 1, 1], signs) }, constF("b", [M])];
    const bytes = graphOf("Conv", ins, { kernel_shape: [1, 1] }, 4);
    await compare(bytes, ins, 3e-2); // activations quantized to int8 per pixel
    const feeds = { x: { dims: x.dims, data: (x as { data: Float32Array }).data } };
    expect(Object.values((await runKernels(bytes, feeds)).session.kernels)).toEqual(["qs8-pointwise"]);
  });

  it("runs a quantized filter over fewer than SMALL_QUANTIZED_K inputs (a 3-channel 3x3 stem) on fp32 with its dequantized weights (the fp32 pointwise kernel over its patch planes)", async () => {
    const [C, M, H, W] = [3, 16, 15, 17];
    expect(C * 9).toBeLessThan(SMALL_QUANTIZED_K);
    const x = live("x", [2, C, H, W]);
    const graph = makeGraph(
      [makeNode("DequantizeLinear", ["q", "s"], ["w"], "dq", { axis: 0 }), makeNode("Conv", ["x", "w"], ["y"], "stem", { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })],
      "stem-int8",
      [makeValueInfo("x", DT.FLOAT, [2, C, H, W])],
      [makeValueInfo("y", DT.FLOAT, [null, null, null, null])],
      [makeTensor("q", DT.INT8, [M, C, 3, 3], Int8Array.from({ length: M * C * 9 }, () => int(-127, 127))), makeTensor("s", DT.FLOAT, [M], Float32Array.from({ length: M }, () => 0.01 + next() * 0.02))],
    );
    const bytes = encodeModel(makeModel(graph));
    await compare(bytes, [x]); // no activation quantization: the default float tolerance
    const feeds = { x: { dims: x.dims, data: (x as { data: Float32Array }).data } };
    expect(Object.values((await runKernels(bytes, feeds)).session.kernels)).toEqual(["pointwise"]);
  });

  // After the tests above, so that their seeded shapes stay as they were.
  for (const batch of [1, 3]) {
    it(`filters over few inputs read their patches as planes into the fp32 pointwise kernel: strides, dilations, asymmetric and SAME pads, groups, batch ${batch}`, async () => {
      const cases: [number, number, number, number, Attr][] = [
        [1, 3, 3, 1, { pads: [1, 1, 1, 1] }],
        [3, 3, 3, 1, { strides: [2, 2], pads: [1, 1, 1, 1] }],
        [2, 3, 2, 1, { dilations: [2, 1], pads: [0, 2, 1, 0] }],
        [3, 1, 5, 1, { strides: [1, 3], auto_pad: "SAME_UPPER" }],
        [4, 3, 3, 2, { auto_pad: "SAME_LOWER", strides: [2, 1] }],
      ];
      for (const [C, kh, kw, group, attrs] of cases) {
        expect((C / group) * kh * kw).toBeLessThan(SMALL_QUANTIZED_K);
        const M = 2 * group * int(1, 5);
        const [H, W] = [int(7, 17), int(7, 23)];
        const ins = [live("x", [batch, C, H, W]), constF("w", [M, C / group, kh, kw]), constF("b", [M])];
        const bytes = graphOf("Conv", ins, { kernel_shape: [kh, kw], group, ...attrs }, 4);
        await compare(bytes, ins);
        const feeds = { x: { dims: ins[0]!.dims, data: (ins[0] as { data: Float32Array }).data } };
        expect(Object.values((await runKernels(bytes, feeds)).session.kernels), JSON.stringify(attrs)).toEqual(["pointwise"]);
      }
    });

    it(`3x3 and 5x3 filters on int8 weights read their patches as planes into the int8 pointwise kernel: stride 2, dilation, pads, groups, batch ${batch}`, async () => {
      const cases: [number, number, number, number, Attr][] = [
        [8, 3, 3, 1, { strides: [2, 2], pads: [1, 1, 1, 1] }],
        [6, 5, 3, 1, { dilations: [1, 2], pads: [2, 0, 1, 3] }],
        [12, 3, 3, 2, { auto_pad: "SAME_UPPER" }],
      ];
      for (const [C, kh, kw, group, attrs] of cases) {
        const Cg = C / group;
        expect(Cg * kh * kw).toBeGreaterThanOrEqual(SMALL_QUANTIZED_K);
        const M = group * int(2, 9);
        const [H, W] = [int(8, 15), int(8, 15)];
        const x = live("x", [batch, C, H, W]);
        const graph = makeGraph(
          [makeNode("DequantizeLinear", ["q", "s"], ["w"], "dq", { axis: 0 }), makeNode("Conv", ["x", "w"], ["y"], "conv", { kernel_shape: [kh, kw], group, ...attrs })],
          "conv-int8",
          [makeValueInfo("x", DT.FLOAT, [batch, C, H, W])],
          [makeValueInfo("y", DT.FLOAT, [null, null, null, null])],
          [makeTensor("q", DT.INT8, [M, Cg, kh, kw], Int8Array.from({ length: M * Cg * kh * kw }, () => int(-127, 127))), makeTensor("s", DT.FLOAT, [M], Float32Array.from({ length: M }, () => 0.01 + next() * 0.02))],
        );
        const bytes = encodeModel(makeModel(graph));
        await compare(bytes, [x], 3e-2);
        const feeds = { x: { dims: x.dims, data: (x as { data: Float32Array }).data } };
        expect(Object.values((await runKernels(bytes, feeds)).session.kernels), JSON.stringify(attrs)).toEqual(["qs8-pointwise"]);
      }
    });
  }

  for (const name of ["mobilenet_v2", "resnet18"]) {
    it(`runs the small zoo's ${name} (batch 2) within 1e-4 of onnxruntime-node, depthwise layers on the direct kernel`, async () => {
      const m = await zooModel(name);
      const feeds = Object.fromEntries(Object.entries(m.inputs(1)).map(([k, t]) => [k, { dims: [...t.dims], data: t.data as Float32Array }]));
      const { session, outputs } = await runKernels(m.bytes, feeds);
      const ref = await runReference(m.bytes, feeds);
      for (const [out, want] of Object.entries(ref)) {
        expect(outputs[out]!.dims).toEqual(want.dims);
        expect(maxRelDiff(outputs[out]!.data, want.data), out).toBeLessThan(1e-4);
      }
      expect(Object.values(session.kernels).includes("dwconv")).toBe(name === "mobilenet_v2");
    });
  }
});

describe("1-D Conv on the kernel engine against onnxruntime-node (as one row of a 2-D convolution)", () => {
  for (const batch of [1, 3]) {
    it(`fp32: kernels 1 to 7, strides, dilations, asymmetric and SAME pads, groups and depthwise, with BatchNormalization and Relu after, batch ${batch}`, async () => {
      const cases: [number, number, number, Attr][] = [
        [3, 8, 3, { pads: [1, 1] }],
        [4, 6, 5, { strides: [2], pads: [1, 3] }],
        [5, 7, 3, { dilations: [2], pads: [2, 2] }],
        [6, 4, 1, {}],
        [6, 6, 3, { group: 2, auto_pad: "SAME_UPPER" }],
        [7, 7, 5, { group: 7, pads: [2, 2] }],
        [9, 12, 7, { strides: [3], auto_pad: "SAME_LOWER" }],
      ];
      for (const [C, M, k, attrs] of cases) {
        const group = (attrs?.group as number | undefined) ?? 1;
        const L = int(k + 8, 61);
        const ins = [live("x", [batch, C, L]), constF("w", [M, C / group, k]), constF("b", [M])];
        await compare(graphOf("Conv", ins, { kernel_shape: [k], ...attrs }, 3), ins);
      }
      // A keyword spotter's block: Conv1d, BatchNorm1d and ReLU, fused into the convolution's epilogue.
      const [C, M, L] = [5, 16, int(20, 40)];
      const x = live("x", [batch, C, L]);
      const graph = makeGraph(
        [
          makeNode("Conv", ["x", "w", "b"], ["c"], "conv", { kernel_shape: [3], pads: [1, 1] }),
          makeNode("BatchNormalization", ["c", "g", "beta", "mean", "var"], ["n"], "bn"),
          makeNode("Relu", ["n"], ["y"], "relu"),
        ],
        "kws-block",
        [makeValueInfo("x", DT.FLOAT, [batch, C, L])],
        [makeValueInfo("y", DT.FLOAT, [null, null, null])],
        [
          constantOf(constF("w", [M, C, 3])),
          constantOf(constF("b", [M])),
          constantOf(constF("g", [M])),
          constantOf(constF("beta", [M])),
          constantOf(constF("mean", [M])),
          makeTensor("var", DT.FLOAT, [M], Float32Array.from({ length: M }, () => 0.5 + next())),
        ],
      );
      await compare(encodeModel(makeModel(graph)), [x]);
    });

    it(`int8 weights over at least SMALL_QUANTIZED_K inputs on the int8 pointwise kernel (stride 1 read in place, stride 2 through planes), fewer on fp32, batch ${batch}`, async () => {
      const cases: [number, number, Attr, string][] = [
        [12, 3, { pads: [1, 1] }, "qs8-pointwise"],
        [8, 5, { strides: [2], pads: [2, 1] }, "qs8-pointwise"],
        [16, 5, { dilations: [2], group: 2, pads: [4, 3] }, "qs8-pointwise"],
        [10, 4, { auto_pad: "SAME_UPPER" }, "qs8-pointwise"],
        [3, 5, { pads: [2, 2] }, "pointwise"],
      ];
      for (const [C, k, attrs, kernel] of cases) {
        const group = (attrs?.group as number | undefined) ?? 1;
        const Cg = C / group;
        expect(Cg * k >= SMALL_QUANTIZED_K).toBe(kernel !== "pointwise");
        const M = group * int(2, 9);
        const L = int(k + 10, 50);
        const x = live("x", [batch, C, L]);
        const graph = makeGraph(
          [makeNode("DequantizeLinear", ["q", "s"], ["w"], "dq", { axis: 0 }), makeNode("Conv", ["x", "w"], ["y"], "conv", { kernel_shape: [k], ...attrs })],
          "conv1d-int8",
          [makeValueInfo("x", DT.FLOAT, [batch, C, L])],
          [makeValueInfo("y", DT.FLOAT, [null, null, null])],
          [makeTensor("q", DT.INT8, [M, Cg, k], Int8Array.from({ length: M * Cg * k }, () => int(-127, 127))), makeTensor("s", DT.FLOAT, [M], Float32Array.from({ length: M }, () => 0.01 + next() * 0.02))],
        );
        const bytes = encodeModel(makeModel(graph));
        await compare(bytes, [x], 3e-2);
        const feeds = { x: { dims: x.dims, data: (x as { data: Float32Array }).data } };
        expect(Object.values((await runKernels(bytes, feeds)).session.kernels), JSON.stringify(attrs)).toEqual([kernel]);
      }
    });
  }

  it("says 3-D convolutions are not covered (the model runs on onnxruntime-web)", async () => {
    const ins = [live("x", [1, 2, 5, 5, 5]), constF("w", [3, 2, 3, 3, 3])];
    await expect(runKernels(graphOf("Conv", ins, { kernel_shape: [3, 3, 3] }, 5), { x: { dims: ins[0]!.dims, data: (ins[0] as { data: Float32Array }).data } })).rejects.toThrow(/only 1-D and 2-D convolution/);
  });
});
