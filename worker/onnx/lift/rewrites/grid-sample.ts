// GridSample at opset 20: the interpolation modes were renamed (bilinear -> linear, bicubic -> cubic; nearest
// stays); the default (bilinear, now linear) is the same interpolation.
import type { NodeProto } from "onnx-buf";
import { edited } from "../../edit";

const RENAMED: Record<string, string> = { bilinear: "linear", bicubic: "cubic" };

export function gridSampleMode(node: NodeProto): NodeProto | { refuse: string } {
  const mode = node.attribute.find((a) => a.name === "mode");
  if (!mode) return node;
  const old = new TextDecoder().decode(mode.s);
  if (old === "nearest") return node;
  const renamed = RENAMED[old];
  if (!renamed) return { refuse: `GridSample mode '${old}' has no opset-20 name` };
  const s = new TextEncoder().encode(renamed) as Uint8Array<ArrayBuffer>;
  return edited(node, { attribute: node.attribute.map((a) => (a === mode ? edited(a, { s }) : a)) });
}
