// Upsample (opsets 7-9, before Resize): nearest or linear with asymmetric coordinates and truncating nearest indices;
// scales from the attribute (7-8) or a constant input (9).
import { stringAttribute } from "../../../onnx/attributes";
import type { Op } from "../op";
import { floatData, Uncovered } from "../values";
import { planResize } from "./resize";

export const upsample: Op = {
  plan(ctx) {
    const mode = stringAttribute(ctx.node, "mode", "nearest");
    if (mode !== "nearest" && mode !== "linear" && mode !== "bilinear") throw new Uncovered(`mode ${mode}`);
    let scales: number[];
    if (ctx.has(1)) {
      const c = ctx.constant(1);
      if (!c) throw new Uncovered("scales are computed at run time");
      scales = Array.from(floatData(c));
    } else {
      scales = ctx.node.attribute.find((a) => a.name === "scales")?.floats ?? [];
      if (scales.length === 0) throw new Uncovered("no scales");
    }
    return planResize(ctx, { mode: mode === "nearest" ? "nearest" : "linear", transform: "asymmetric", nearest: "simple" }, { scales });
  },
};
