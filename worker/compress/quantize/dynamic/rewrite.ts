// What the dynamic scheme's per-operator rewrites share: the context they write the graph through, and the
// rewrite itself. Its own module so that the rewrites and the index that runs them do not import each other.
import type { NodeProto, TensorProto } from "onnx-buf";
import type { WeightedLayer, WeightLayout } from "../../../onnx/operators";
import type { TensorReport } from "../index";

export interface DynamicContext {
  fresh(wanted: string): string;
  /** One weight scale for the whole tensor instead of one per output channel. */
  perTensor: boolean;
  addInitializer(t: TensorProto): void;
  initializer(name: string): TensorProto | undefined;
  /** The shared DynamicQuantizeLinear outputs for activation `x`: [quantized, scale, zero point]. */
  quantizedActivation(x: string): [string, string, string];
  /**
   * The int8 weight initializers under `key` (the weight and the layout the integer op reads it in), made by `make`
   * the first time: consumers of a shared weight read one copy. `report` is null after the first.
   */
  quantizedWeight(key: string, make: () => QuantizedWeight): QuantizedWeight & { first: boolean };
}

export interface QuantizedWeight {
  q: string;
  zp: string;
  scale: string;
  report: TensorReport;
}

export interface DynamicRewrite {
  /** Why this node stays as it is (checked for every reader of a weight before any is rewritten), or null. */
  check(layer: WeightedLayer, layout: WeightLayout | null, ctx: Pick<DynamicContext, "initializer">): string | null;
  /**
   * Replacement nodes (producing the node's outputs) and the weight's report, or why the node stays as is. `layout`
   * is the operator table's for the weight's shape (null when the op takes no weight of that rank).
   */
  rewrite(layer: WeightedLayer, layout: WeightLayout, data: () => Float32Array, ctx: DynamicContext): { nodes: NodeProto[]; report: TensorReport | null };
}
