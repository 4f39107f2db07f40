// A static 8-bit activation grid read off QuantizeLinear/DequantizeLinear inputs (one scale, one zero point, uint8 or
// int8 levels: what QDQ exporters, slimtrain among them, write around a quantized layer's input); null otherwise.
import type { NodeProto } from "onnx-buf";
import { DT } from "../../onnx/dtype";
import type { Grid } from "./op";
import { floatData, type Constant } from "./values";

export function gridOf(node: NodeProto, scale: Constant | undefined, zeroPoint: Constant | undefined, hasZeroPoint: boolean): Grid | null {
  if (!scale || scale.data.length !== 1 || (hasZeroPoint && (!zeroPoint || zeroPoint.data.length !== 1))) return null;
  if (node.attribute.some((a) => a.name === "block_size" || a.name === "output_dtype")) return null;
  const type = zeroPoint ? zeroPoint.dtype : DT.UINT8;
  if (type !== DT.UINT8 && type !== DT.INT8) return null;
  const s = floatData(scale)[0]!;
  if (!(s > 0) || !Number.isFinite(s)) return null;
  const zp = zeroPoint ? Number(zeroPoint.data[0]) : 0;
  return type === DT.UINT8 ? { scale: s, zeroPoint: zp, lo: 0, hi: 255 } : { scale: s, zeroPoint: zp, lo: -128, hi: 127 };
}

export const sameGrid = (a: Grid, b: Grid) => a.scale === b.scale && a.zeroPoint === b.zeroPoint && a.lo === b.lo && a.hi === b.hi;
