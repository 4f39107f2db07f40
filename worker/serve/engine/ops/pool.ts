// Window geometry shared by MaxPool and AveragePool (2-D): output sizes with ceil_mode and auto_pad, per ONNX.
import { intAttribute, intsAttribute, stringAttribute } from "../../../onnx/attributes";
import type { NodeProto } from "onnx-buf";
import { samePads } from "../../../onnx/window";
import { Uncovered } from "../values";
import { checkWindowOutput } from "../attributes";

export interface PoolGeometry {
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number;
  pt: number; pl: number; pb: number; pr: number; OH: number; OW: number;
}

export function poolAttributes(node: NodeProto) {
  const kernel = intsAttribute(node, "kernel_shape", []);
  if (kernel.length !== 2) throw new Uncovered(`only 2-D pooling is covered (kernel_shape [${kernel}])`);
  const autoPad = stringAttribute(node, "auto_pad", "NOTSET");
  if (!["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"].includes(autoPad)) throw new Uncovered(`auto_pad ${autoPad}`);
  return {
    kernel,
    strides: intsAttribute(node, "strides", [1, 1]),
    dilations: intsAttribute(node, "dilations", [1, 1]),
    pads: intsAttribute(node, "pads", [0, 0, 0, 0]),
    ceil: intAttribute(node, "ceil_mode", 0) === 1,
    autoPad,
  };
}

function outSize(size: number, k: number, s: number, d: number, begin: number, end: number, ceil: boolean): number {
  const span = size + begin + end - d * (k - 1) - 1;
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // A last window that would start in the end padding is dropped.
  if (ceil && (out - 1) * s >= size + begin) out -= 1;
  return out;
}

export function poolGeometry(a: ReturnType<typeof poolAttributes>, H: number, W: number): PoolGeometry {
  const [kh, kw] = a.kernel as [number, number];
  const [sh, sw] = a.strides as [number, number];
  const [dh, dw] = a.dilations as [number, number];
  let [pt, pl, pb, pr] = a.autoPad === "VALID" ? [0, 0, 0, 0] : (a.pads as [number, number, number, number]);
  if (a.autoPad.startsWith("SAME")) {
    [pt, pb] = samePads(H, kh, sh, dh, a.autoPad === "SAME_UPPER");
    [pl, pr] = samePads(W, kw, sw, dw, a.autoPad === "SAME_UPPER");
  }
  const OH = outSize(H, kh, sh, dh, pt, pb, a.ceil);
  const OW = outSize(W, kw, sw, dw, pl, pr, a.ceil);
  checkWindowOutput("pooling", [H, W], [OH, OW]);
  return { kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, OH, OW };
}
