// The constant sink the opset rewrites write through, in its own module so that the rewrites and their index do
// not import each other.
/** Where a rewrite puts the constants it needs: an int64 initializer in the node's graph, by fresh name. */
export interface ConstantSink {
  int64(hint: string, values: bigint[], dims: number[]): string;
}
