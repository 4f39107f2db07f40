// Window geometry shared by MaxPool and AveragePool (2-D, and 1-D as one row of 2-D): output sizes with ceil_mode and
// auto_pad, per ONNX.
import { intAttribute, intsAttribute, stringAttribute } from "../../../onnx/attributes";
import type { NodeProto } from "onnx-buf";
import { samePads } from "../../../onnx/window";
import { Uncovered } from "../values";
import { checkWindowOutput } from "../attributes";
import { windowInts, windowPads } from "./one-row";

export interface PoolGeometry {
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number;
  pt: number; pl: number; pb: number; pr: number; OH: number; OW: number;
}

/** The window's attributes in 2-D form: a 1-D window (`oneD`) as one row, kernel [1, k], pads [0, begin, 0, end]. */
export function poolAttributes(node: NodeProto) {
  const kernel = intsAttribute(node, "kernel_shape", []);
  if (kernel.length !== 1 && kernel.length !== 2) throw new Uncovered(`only 1-D and 2-D pooling are covered (kernel_shape [${kernel}])`);
  const autoPad = stringAttribute(node, "auto_pad", "NOTSET");
  if (!["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"].includes(autoPad)) throw new Uncovered(`auto_pad ${autoPad}`);
  const oneD = kernel.length === 1;
  return {
    oneD,
    kernel: oneD ? [1, ...kernel] : kernel,
    strides: windowInts(node, "strides", [1, 1], oneD, 1),
    dilations: windowInts(node, "dilations", [1, 1], oneD, 1),
    pads: windowPads(node, oneD),
    ceil: intAttribute(node, "ceil_mode", 0) === 1,
    autoPad,
  };
}

/** The input's [N, C, H, W]: NCHW, or [N, C, L] as one row (H 1) for a 1-D window. */
export function poolInput(dims: readonly number[], oneD: boolean, op: string): [number, number, number, number] {
  if (dims.length !== (oneD ? 3 : 4)) throw new RangeError(`${op} needs ${oneD ? "[N, C, L]" : "NCHW"} input, got [${dims}]`);
  return (oneD ? [dims[0]!, dims[1]!, 1, dims[2]!] : dims) as [number, number, number, number];
}

/** The output's dims: [N, C, OH, OW], or [N, C, OW] for a 1-D window. */
export const poolOutput = (oneD: boolean, B: number, C: number, g: PoolGeometry) => (oneD ? [B, C, g.OW] : [B, C, g.OH, g.OW]);

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
