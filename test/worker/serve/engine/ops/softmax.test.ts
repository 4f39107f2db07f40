// Softmax and LogSoftmax against onnxruntime-node on 4-D tensors: every axis at opset 13, the 2-D coercion at opsets 7
// and 11, at odd sizes, batch 1 and 3, within 1e-5 relative (LogSoftmax on values spread over -60..60, so that some
// sit far below their row's max, where log(softmax) would be -Infinity).
import { describe, it } from "vitest";
import { compare, graphOf, inputMaker } from "@test/support/op-graphs";

const { int, live, rand } = inputMaker(20261204);

describe("LogSoftmax against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`along each axis of a 4-D tensor, values far below each row's max included, batch ${batch}`, async () => {
      const dims = [batch, int(2, 5), int(2, 17), int(2, 17)];
      const x = { name: "x", dims, data: rand(dims.reduce((p, d) => p * d, 1), 60) };
      for (const axis of [-1, -2, 0, 1, 2, 3]) await compare(graphOf("LogSoftmax", [x], { axis }, 4), [x]);
    });

    it(`over the flattened trailing axes before opset 13, batch ${batch}`, async () => {
      const x = live("x", [batch, int(2, 5), int(2, 9), int(2, 9)]);
      for (const opset of [7, 11]) for (const axis of [1, 2, -1]) await compare(graphOf("LogSoftmax", [x], { axis }, 4, opset), [x]);
      await compare(graphOf("LogSoftmax", [x], {}, 4, 11), [x]);
    });
  }
});

describe("Softmax against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`normalizes along each axis of a 4-D tensor, batch ${batch}`, async () => {
      const x = live("x", [batch, int(2, 5), int(2, 17), int(2, 17)]);
      for (const axis of [-1, -2, 0, 1, 2, 3]) await compare(graphOf("Softmax", [x], { axis }, 4), [x]);
    });

    it(`normalizes over the flattened trailing axes before opset 13, batch ${batch}`, async () => {
      const x = live("x", [batch, int(2, 5), int(2, 9), int(2, 9)]);
      for (const opset of [7, 11]) for (const axis of [1, 2, -1]) await compare(graphOf("Softmax", [x], { axis }, 4, opset), [x]);
      await compare(graphOf("Softmax", [x], {}, 4, 11), [x]);
    });
  }
});
