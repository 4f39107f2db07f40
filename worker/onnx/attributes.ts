// Typed reads of node attributes with defaults.
import type { NodeProto } from "onnx-buf";

export function intAttribute(node: NodeProto, name: string, fallback: number): number {
  const a = node.attribute.find((x) => x.name === name);
  return a ? Number(a.i) : fallback;
}

export function intsAttribute(node: NodeProto, name: string, fallback: number[]): number[] {
  const a = node.attribute.find((x) => x.name === name);
  return a ? a.ints.map(Number) : fallback;
}

export function floatAttribute(node: NodeProto, name: string, fallback: number): number {
  const a = node.attribute.find((x) => x.name === name);
  return a ? a.f : fallback;
}

export function stringAttribute(node: NodeProto, name: string, fallback: string): string {
  const a = node.attribute.find((x) => x.name === name);
  return a ? new TextDecoder().decode(a.s) : fallback;
}
