// Resize (opsets 10, 13, 18), Upsample (opsets 7 and 9) and Pad against onnxruntime-node on NCHW inputs of seeded
// random odd sizes, batch 1 and 3: every nearest rounding mode under every coordinate transform, linear under each
// transform, scales up and down, sizes, and Pad's constant/reflect/edge modes from attributes and inputs.
import { describe, it } from "vitest";
import { makeNode } from "@worker/onnx/builders";
import { compare, graphOf, inputMaker, type Attr, type Input } from "@test/support/op-graphs";
import { chainOf, compareAll, floats, int64 } from "@test/support/op-chains";

const { int, live, constF } = inputMaker(20261205);
const batches = [1, 3];

const TRANSFORMS = ["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"];
const NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"];

/** Resize at opset 13: X, roi (absent), scales or sizes. */
function resize13(x: Input, attrs: Attr, by: { scales?: number[]; sizes?: number[] }) {
  const ins: Input[] = by.scales ? [x, floats("roi", [], [0]), floats("scales", by.scales)] : [x, floats("roi", [], [0]), floats("scales", [], [0]), int64("sizes", by.sizes!)];
  return { model: chainOf([makeNode("Resize", ins.map((i) => i.name), ["y"], "resize", attrs)], ins), ins };
}

describe("Resize, Upsample and Pad against onnxruntime-node", () => {
  for (const batch of batches) {
    it(`Resize nearest: each rounding mode under each coordinate transform, scales up and down, batch ${batch}`, async () => {
      const x = live("x", [batch, 2, int(3, 7), int(3, 7)]);
      for (const transform of TRANSFORMS)
        for (const nearest of NEAREST)
          for (const scales of [[1, 1, 2, 3], [1, 1, 1.5, 0.6], [1, 1, 0.5, 1.75]]) {
            const { model, ins } = resize13(x, { mode: "nearest", coordinate_transformation_mode: transform, nearest_mode: nearest }, { scales });
            await compareAll(model, ins.slice(0, 1));
          }
    });

    it(`Resize nearest and linear to given sizes (odd ratios), batch ${batch}`, async () => {
      const x = live("x", [batch, 3, int(3, 8), int(3, 8)]);
      for (const sizes of [[batch, 3, 7, 11], [batch, 3, 2, 5], [batch, 3, 1, 1], [batch, 3, x.dims[2]!, 9]]) {
        for (const transform of TRANSFORMS) {
          for (const mode of ["nearest", "linear"]) {
            const { model, ins } = resize13(x, { mode, coordinate_transformation_mode: transform }, { sizes });
            await compareAll(model, ins.slice(0, 1));
          }
        }
      }
    });

    it(`Resize linear under each coordinate transform, scales up and down, batch ${batch}`, async () => {
      const x = live("x", [batch, 2, int(2, 7), int(2, 7)]);
      for (const transform of [...TRANSFORMS, "half_pixel_symmetric"]) {
        for (const scales of [[1, 1, 2, 2], [1, 1, 1.7, 0.55], [1, 1, 0.5, 3]]) {
          const ins = [x, floats("roi", [], [0]), floats("scales", scales)];
          const opset = transform === "half_pixel_symmetric" ? 19 : 13;
          await compareAll(chainOf([makeNode("Resize", ["x", "roi", "scales"], ["y"], "resize", { mode: "linear", coordinate_transformation_mode: transform })], ins, ["y"], opset), [x]);
        }
      }
    });

    it(`Resize at opset 10 (asymmetric, truncating nearest) and opset 18 with axes, batch ${batch}`, async () => {
      const x = live("x", [batch, 2, int(3, 6), int(3, 6)]);
      for (const mode of ["nearest", "linear"]) {
        for (const scales of [[1, 1, 2, 2], [1, 1, 1.5, 2.5], [1, 1, 0.5, 0.7]]) {
          const ins = [x, floats("scales", scales)];
          await compare(graphOf("Resize", ins, { mode }, 4, 10), ins);
        }
        const ins = [x, floats("roi", [], [0]), floats("scales", [2.5, 1.5])];
        await compareAll(chainOf([makeNode("Resize", ["x", "roi", "scales"], ["y"], "resize", { mode, axes: [2, 3] })], ins, ["y"], 18), [x]);
        const sized = [x, floats("roi", [], [0]), floats("scales", [], [0]), int64("sizes", [5, 9])];
        for (const policy of ["stretch", "not_larger", "not_smaller"]) {
          await compareAll(chainOf([makeNode("Resize", ["x", "roi", "scales", "sizes"], ["y"], "resize", { mode, axes: [2, 3], keep_aspect_ratio_policy: policy })], sized, ["y"], 18), [x]);
        }
      }
    });

    it(`Resize nearest with tf_half_pixel_for_nn (opset 11), batch ${batch}`, async () => {
      const x = live("x", [batch, 2, int(3, 6), int(3, 6)]);
      for (const scales of [[1, 1, 2, 3], [1, 1, 0.6, 1.5]]) {
        const ins = [x, floats("roi", [], [0]), floats("scales", scales)];
        await compareAll(chainOf([makeNode("Resize", ["x", "roi", "scales"], ["y"], "resize", { mode: "nearest", coordinate_transformation_mode: "tf_half_pixel_for_nn" })], ins, ["y"], 11), [x]);
      }
    });

    it(`a MobileNetV3/YOLO-style block: Conv, HardSwish, squeeze-excite (ReduceMean, HardSigmoid, Mul), Resize 2x, Concat, batch ${batch}`, async () => {
      const C = int(2, 5);
      const x = live("x", [batch, 3, int(5, 9), int(5, 9)]);
      const nodes = [
        makeNode("Conv", ["x", "w"], ["c"], "conv", { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] }),
        makeNode("HardSwish", ["c"], ["h"], "hswish"),
        makeNode("ReduceMean", ["h"], ["m"], "pool", { axes: [2, 3], keepdims: 1 }),
        makeNode("HardSigmoid", ["m"], ["g"], "gate", { alpha: 1 / 6, beta: 0.5 }),
        makeNode("Mul", ["h", "g"], ["se"], "excite"),
        makeNode("Resize", ["se", "", "scales"], ["up"], "up", { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" }),
        makeNode("Slice", ["x", "zero", "end", "axes"], ["xs"], "crop"),
        makeNode("Concat", ["up", "xs"], ["y"], "concat", { axis: 1 }),
      ];
      const H = x.dims[2]!;
      const W = x.dims[3]!;
      const up = [2 * Math.ceil(H / 2), 2 * Math.ceil(W / 2)];
      const ins = [x, constF("w", [C, 3, 3, 3]), floats("scales", [1, 1, 2, 2]), int64("zero", [0, 0]), int64("end", [Math.min(up[0]!, H), Math.min(up[1]!, W)]), int64("axes", [2, 3])];
      // The crop matches the upsampled size only where H and W are even: pad x instead when they are odd.
      if (up[0] !== H || up[1] !== W) {
        nodes.splice(6, 1, makeNode("Pad", ["x", "pads"], ["xs"], "pad", { mode: "edge" }));
        ins.push(int64("pads", [0, 0, 0, 0, 0, 0, up[0]! - H, up[1]! - W]));
      }
      await compareAll(chainOf(nodes, ins, ["y"], 14), [x]);
    });

    it(`Upsample nearest and linear, scales as attribute (opset 7) and input (opset 9), batch ${batch}`, async () => {
      const x = live("x", [batch, 2, int(2, 6), int(2, 6)]);
      for (const mode of ["nearest", "linear"]) {
        for (const scales of [[1, 1, 2, 2], [1, 1, 1.5, 3], [1, 1, 2.4, 1]]) {
          await compare(graphOf("Upsample", [x], { mode, scales: { floats: scales } }, 4, 7), [x]);
          const ins = [x, floats("scales", scales)];
          await compare(graphOf("Upsample", ins, { mode }, 4, 9), ins);
        }
      }
    });

    it(`Pad in constant, reflect and edge modes with pads as input (opset 13), negative pads and a value, batch ${batch}`, async () => {
      const x = live("x", [batch, int(1, 4), int(3, 7), int(3, 7)]);
      const padsList = [[0, 0, 1, 2, 0, 0, 2, 1], [0, 1, 0, 0, 1, 0, 2, 2], [0, 0, 2, 0, 0, 0, 0, 2], [0, 0, -1, 1, 0, 0, 1, -2]];
      for (const mode of ["constant", "reflect", "edge"]) {
        for (const pads of padsList) {
          // onnxruntime reflects only dims of length >= 2 after negative pads crop them.
          const cropped = x.dims.map((d, i) => d + Math.min(pads[i]!, 0) + Math.min(pads[i + 4]!, 0));
          if (mode === "reflect" && pads.some((p, i) => p !== 0 && cropped[i % 4]! < 2)) continue;
          const ins = [x, int64("p", pads)];
          await compare(graphOf("Pad", ins, { mode }, 4), ins);
        }
      }
      const valued = [x, int64("p", [0, 0, 1, 1, 0, 0, 1, 1]), floats("v", [-2.5], [])];
      await compare(graphOf("Pad", valued, {}, 4), valued);
    });

    it(`Pad with attributes (opset 2) and with axes (opset 18), batch ${batch}`, async () => {
      const x = live("x", [batch, 2, int(3, 6), int(3, 6)]);
      for (const mode of ["constant", "reflect", "edge"]) {
        await compare(graphOf("Pad", [x], { mode, pads: [0, 0, 2, 1, 0, 0, 1, 2], value: 1.5 }, 4, 2), [x]);
        const ins = [x, int64("p", [1, 2, 2, 1]), floats("v", [0.5], []), int64("a", [-1, 2])];
        await compare(graphOf("Pad", ins, { mode }, 4, 18), ins);
      }
    });

    it(`Pad of a constant folds (then added to a run-time input), batch ${batch}`, async () => {
      const w = live("w", [batch, 5]);
      const nodes = [makeNode("Pad", ["c", "p"], ["q"], "pad", { mode: "reflect" }), makeNode("Add", ["w", "q"], ["y"], "add")];
      await compareAll(chainOf(nodes, [w, floats("c", [1, 2, 3]), int64("p", [1, 1])]), [w]);
    });
  }
});
