// Each covered op on one-op graphs against onnxruntime-node: seeded random shapes (odd sizes, batch 1 and > 1),
// float ops within 1e-5 relative, ops on int8/int4 weights within 3e-2 (the engine quantizes activations too).
import { describe, expect, it } from "vitest";
import type { TensorProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { packInt4 } from "@worker/onnx/encoding";
import { rng } from "@test/support/models";
import { maxRelDiff, runKernels, runReference } from "@test/support/engine";
import { compare, graphOf, inputMaker, type Attr, type Input } from "@test/support/op-graphs";
import { chainOf, compareAll, floats } from "@test/support/op-chains";

const { next, int, rand, live, constF, constI64 } = inputMaker(20261127);
const batches = [1, 3];

describe("kernel-engine ops against onnxruntime-node", () => {
  for (const batch of batches) {
    it(`MatMul with a constant weight at random sizes, batch ${batch}`, async () => {
      for (let t = 0; t < 4; t++) {
        const [K, N] = [int(1, 70), int(1, 40)];
        const ins = [live("x", [batch, K]), constF("w", [K, N])];
        await compare(graphOf("MatMul", ins, {}, 2), ins);
      }
    });

    it(`MatMul of two run-time operands and of a rank-3 input, batch ${batch}`, async () => {
      const [K, N] = [int(2, 30), int(2, 30)];
      const a = [live("x", [batch, K]), live("w", [K, N])];
      await compare(graphOf("MatMul", a, {}, 2), a);
      const b = [live("x", [batch, 3, K]), constF("w", [K, N])];
      await compare(graphOf("MatMul", b, {}, 3), b);
    });

    it(`Gemm with transA, transB, alpha, beta and a per-column C, batch ${batch}`, async () => {
      for (const [transA, transB] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
        const [K, N] = [int(1, 50), int(1, 33)];
        const ins = [live("x", transA ? [K, batch] : [batch, K]), constF("w", transB ? [N, K] : [K, N]), constF("c", [N])];
        await compare(graphOf("Gemm", ins, { transA: transA!, transB: transB!, alpha: 0.7, beta: 1.3 }, 2), ins);
      }
    });

    it(`Conv with padding, strides, dilations, groups and auto_pad, batch ${batch}`, async () => {
      const configs: [number, number, number, Attr][] = [
        [3, 4, 3, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }],
        [4, 6, 3, { kernel_shape: [3, 2], strides: [2, 1], pads: [0, 1, 1, 0] }],
        [2, 3, 3, { kernel_shape: [3, 3], dilations: [2, 2], pads: [2, 2, 2, 2] }],
        [4, 8, 3, { kernel_shape: [3, 3], group: 2, pads: [1, 1, 1, 1] }],
        [3, 3, 3, { kernel_shape: [3, 3], group: 3, strides: [2, 2], auto_pad: "SAME_UPPER" }],
        [5, 7, 1, { kernel_shape: [1, 1] }],
      ];
      for (const [C, M, k, attrs] of configs) {
        const g = Number((attrs as Record<string, unknown>).group ?? 1);
        const [H, W] = [int(5, 11), int(5, 11)];
        const kw = ((attrs as { kernel_shape: number[] }).kernel_shape)[1]!;
        const ins = [live("x", [batch, C, H, W]), constF("w", [M, C / g, k, kw]), constF("b", [M])];
        await compare(graphOf("Conv", ins, attrs, 4), ins);
      }
    });

    it(`Add and Mul with broadcasting (trailing, middle and scalar operands), batch ${batch}`, async () => {
      for (const op of ["Add", "Mul"]) {
        const C = int(1, 9);
        for (const other of [live("b", [batch, C, 5]), constF("b", [5]), constF("b", [C, 1]), constF("b", [1]), live("b", [1, C, 1])]) {
          const ins = [live("a", [batch, C, 5]), other];
          await compare(graphOf(op, ins, {}, 3), ins);
        }
      }
    });

    it(`unary ops (Relu, Sigmoid, Tanh, Clip at opsets 13 and 6 and with min above max, Identity, Dropout), batch ${batch}`, async () => {
      const x = live("x", [batch, int(1, 20)]);
      for (const op of ["Relu", "Sigmoid", "Tanh", "Identity", "Dropout"]) await compare(graphOf(op, [x], {}, 2), [x]);
      const clip13 = [x, constF("lo", [], 0.3), constF("hi", [], 0.2)];
      (clip13[1] as { constant: TensorProto }).constant = makeTensor("lo", DT.FLOAT, [], Float32Array.of(-0.25));
      (clip13[2] as { constant: TensorProto }).constant = makeTensor("hi", DT.FLOAT, [], Float32Array.of(0.5));
      await compare(graphOf("Clip", clip13, {}, 2), clip13);
      await compare(graphOf("Clip", [x], { min: -0.1, max: 0.3 }, 2, 6), [x]);
      // Min above max (opset 13 allows it): every value is max.
      (clip13[1] as { constant: TensorProto }).constant = makeTensor("lo", DT.FLOAT, [], Float32Array.of(0.3));
      (clip13[2] as { constant: TensorProto }).constant = makeTensor("hi", DT.FLOAT, [], Float32Array.of(-0.1));
      await compare(graphOf("Clip", clip13, {}, 2), clip13);
    });

    it(`Softmax over each axis (opset 13) and the 2-D coercion (opset 11), batch ${batch}`, async () => {
      const x = live("x", [batch, int(2, 5), int(2, 6)]);
      for (const axis of [-1, 0, 1, 2]) await compare(graphOf("Softmax", [x], { axis }, 3), [x]);
      await compare(graphOf("Softmax", [x], { axis: 1 }, 3, 11), [x]);
    });

    it(`Flatten, Reshape (0 and -1), Transpose and Concat, batch ${batch}`, async () => {
      const x = live("x", [batch, 3, 4, 5]);
      for (const axis of [0, 1, 2, -1]) await compare(graphOf("Flatten", [x], { axis }, 2), [x]);
      const r = [x, constI64("s", [0, -1, 5])];
      await compare(graphOf("Reshape", r, {}, 3), r);
      await compare(graphOf("Transpose", [x], { perm: [0, 2, 3, 1] }, 4), [x]);
      await compare(graphOf("Transpose", [x], {}, 4), [x]);
      const c = [x, live("z", [batch, 2, 4, 5]), constF("k", [batch, 1, 4, 5])];
      await compare(graphOf("Concat", c, { axis: 1 }, 4), c);
    });

    it(`MaxPool, AveragePool and GlobalAveragePool with pads, strides and ceil_mode, batch ${batch}`, async () => {
      const x = live("x", [batch, 2, int(5, 9), int(5, 9)]);
      const pools: Attr[] = [
        { kernel_shape: [2, 2], strides: [2, 2] },
        { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
        { kernel_shape: [3, 2], strides: [2, 2], ceil_mode: 1 },
        { kernel_shape: [3, 3], strides: [1, 1], auto_pad: "SAME_UPPER" },
      ];
      for (const attrs of pools) {
        await compare(graphOf("MaxPool", [x], attrs, 4), [x]);
        await compare(graphOf("AveragePool", [x], attrs, 4), [x]);
        await compare(graphOf("AveragePool", [x], { ...attrs, count_include_pad: 1 }, 4), [x]);
      }
      await compare(graphOf("MaxPool", [x], { kernel_shape: [2, 2], dilations: [2, 2] }, 4), [x]);
      await compare(graphOf("GlobalAveragePool", [x], {}, 4), [x]);
    });

    it(`BatchNormalization alone and folded into a preceding Conv and Gemm, batch ${batch}`, async () => {
      const C = 4;
      const bn = (name: string) => [constF(`${name}s`, [C]), constF(`${name}b`, [C]), constF(`${name}m`, [C]), { ...constF(`${name}v`, [C]), constant: makeTensor(`${name}v`, DT.FLOAT, [C], Float32Array.from(rand(C), (v) => Math.abs(v) + 0.1)) }];
      const x = live("x", [batch, C, 5, 5]);
      const alone = [x, ...bn("n")];
      await compare(graphOf("BatchNormalization", alone, { epsilon: 1e-3 }, 4), alone);
      // Alone then Relu or Clip (DenseNet's norm before each convolution), fused; and on [N, C, L].
      await compareAll(chainOf([makeNode("BatchNormalization", ["x", "ns", "nb", "nm", "nv"], ["n"], "bn"), makeNode("Relu", ["n"], ["y"], "relu")], alone), [x]);
      const clip = [...alone, floats("lo", [0], []), floats("hi", [0.4], [])];
      await compareAll(chainOf([makeNode("BatchNormalization", ["x", "ns", "nb", "nm", "nv"], ["n"], "bn"), makeNode("Clip", ["n", "lo", "hi"], ["y"], "clip")], clip), [x]);
      const x1 = live("x", [batch, C, 9]);
      const alone1 = [x1, ...bn("n")];
      await compare(graphOf("BatchNormalization", alone1, {}, 3), alone1);
      // Conv -> BatchNormalization -> Relu, one graph.
      const w = constF("w", [C, 3, 3, 3]);
      const params = bn("p");
      const graph = makeGraph(
        [
          makeNode("Conv", ["x3", "w"], ["c"], "conv", { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
          makeNode("BatchNormalization", ["c", "ps", "pb", "pm", "pv"], ["n"], "bn"),
          makeNode("Relu", ["n"], ["y"], "relu"),
        ],
        "conv-bn",
        [makeValueInfo("x3", DT.FLOAT, [batch, 3, 6, 6])],
        [makeValueInfo("y", DT.FLOAT, [null, null, null, null])],
        [(w as { constant: TensorProto }).constant, ...params.map((p) => (p as { constant: TensorProto }).constant)],
      );
      const x3 = live("x3", [batch, 3, 6, 6]);
      await compare(encodeModel(makeModel(graph)), [x3]);
    });

    it(`DequantizeLinear int8 (per axis, uint8 with zero points) fused into MatMul, batch ${batch}`, async () => {
      const [K, N] = [int(8, 60), int(3, 20)];
      const q = Int8Array.from({ length: K * N }, () => int(-127, 127));
      const scale = Float32Array.from({ length: N }, () => 0.01 + next() * 0.02);
      const x = live("x", [batch, K]);
      const nodes = [makeNode("DequantizeLinear", ["q", "s", "z"], ["w"], "dq", { axis: 1 }), makeNode("MatMul", ["x", "w"], ["y"], "mm")];
      const g1 = makeGraph(nodes, "dq", [makeValueInfo("x", DT.FLOAT, [batch, K])], [makeValueInfo("y", DT.FLOAT, [null, null])], [
        makeTensor("q", DT.INT8, [K, N], q), makeTensor("s", DT.FLOAT, [N], scale), makeTensor("z", DT.INT8, [N], new Int8Array(N)),
      ]);
      await compare(encodeModel(makeModel(g1)), [x], 3e-2);
      const u = Uint8Array.from(q, (v) => Math.max(0, v + 100));
      const g2 = makeGraph(nodes, "dq-u8", [makeValueInfo("x", DT.FLOAT, [batch, K])], [makeValueInfo("y", DT.FLOAT, [null, null])], [
        makeTensor("q", DT.UINT8, [K, N], u), makeTensor("s", DT.FLOAT, [N], scale), makeTensor("z", DT.UINT8, [N], new Uint8Array(N).fill(100)),
      ]);
      await compare(encodeModel(makeModel(g2)), [x], 3e-2);
    });

    it(`DequantizeLinear int4 with block_size fused into Gemm (transB), batch ${batch}`, async () => {
      const [K, N, B] = [int(33, 100), int(3, 20), 32];
      const levels = Int8Array.from({ length: K * N }, () => int(-7, 7));
      const blocks = Math.ceil(K / B);
      const scale = Float32Array.from({ length: N * blocks }, () => 0.05 + next() * 0.05);
      const x = live("x", [batch, K]);
      const graph = makeGraph(
        [makeNode("DequantizeLinear", ["q", "s"], ["w"], "dq", { axis: 1, block_size: B }), makeNode("Gemm", ["x", "w"], ["y"], "gemm", { transB: 1 })],
        "dq4", [makeValueInfo("x", DT.FLOAT, [batch, K])], [makeValueInfo("y", DT.FLOAT, [null, null])],
        [makeTensor("q", DT.INT4, [N, K], packInt4(levels)), makeTensor("s", DT.FLOAT, [N, blocks], scale)],
      );
      await compare(encodeModel(makeModel(graph, { "": 21 }, 10)), [x], 3e-2);
    });
  }
});
