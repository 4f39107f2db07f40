// ConstantOfShape: a tensor of the given shape filled with `value` (a one-element tensor, float 0 by default). Folds
// when the shape is known at load, keeping value's element type.
import { DT } from "../../../onnx/dtype";
import { constantOf, numbersOf } from "../elementwise";
import type { Op } from "../op";
import { intInput } from "../shape";
import { readConstant } from "../values";

export const constantofshape: Op = {
  plan(ctx) {
    const attr = ctx.node.attribute.find((a) => a.name === "value");
    const value = attr?.t ? readConstant(attr.t) : { dims: [1], dtype: DT.FLOAT, data: Float32Array.of(0) };
    const v = numbersOf(value)[0] ?? 0;
    const shape = intInput(ctx, 0);
    if (shape.known) {
      const n = shape.known.reduce((p, d) => p * d, 1);
      return { kind: "constant", outputs: [constantOf(value.dtype, [...shape.known], new Float64Array(n).fill(v))] };
    }
    return {
      kind: "step",
      run(run) {
        const y = run.alloc(shape.read(run));
        run.view(y).fill(v);
        return [y];
      },
    };
  },
};
