// The constant sink and graph facts the opset rewrites read and write through, in their own module so that the
// rewrites and their index do not import each other.
import type { TensorProto } from "onnx-buf";

/** Where a rewrite puts the constants it needs: an initializer in the node's graph, by fresh name. */
export interface ConstantSink {
  int64(hint: string, values: bigint[], dims: number[]): string;
  float32(hint: string, values: number[], dims: number[]): string;
}

/** What a rewrite may ask of the graph around the node: a tensor's rank where the graph states or implies it, a constant. */
export interface GraphFacts {
  rankOf(name: string): number | undefined;
  elementTypeOf(name: string): number | undefined;
  constantOf(name: string): TensorProto | undefined;
}
