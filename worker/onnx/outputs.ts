// Exposing intermediate tensors as graph outputs (a copy of the model), so that a runtime returns them too:
// how calibration and per-layer error measurement read activations.
import { create } from "@bufbuild/protobuf";
import { TypeProtoSchema, TypeProto_TensorSchema, ValueInfoProtoSchema, type ModelProto } from "onnx-buf";
import { DT } from "./dtype";

/** Float tensors named `names` become extra outputs (element type float, shape left unknown); "" (an omitted
 * optional output, not a tensor) is skipped. */
export function withExtraOutputs(model: ModelProto, names: readonly string[]): ModelProto {
  const graph = model.graph!;
  const existing = new Set(graph.output.map((o) => o.name));
  const extra = names
    .filter((n) => n !== "" && !existing.has(n))
    .map((name) =>
      create(ValueInfoProtoSchema, {
        name,
        type: create(TypeProtoSchema, { value: { case: "tensorType", value: create(TypeProto_TensorSchema, { elemType: DT.FLOAT }) } }),
      }),
    );
  return { ...model, graph: { ...graph, output: [...graph.output, ...extra] } };
}

/**
 * Whether a runtime's layout optimizations may fuse away one of these tensors once exposed: a Conv's output that an
 * Add also reads. onnxruntime-web (1.30) fuses such a Conv into the Add at its layout level (NCHWc) and then answers a
 * non-tensor for the exposed output; a session exposing one is made without layout optimizations.
 */
export function exposesConvIntoAdd(model: ModelProto, names: readonly string[]): boolean {
  const nodes = model.graph?.node ?? [];
  const convOutputs = new Set(nodes.filter((n) => n.opType === "Conv").map((n) => n.output[0]));
  const addInputs = new Set(nodes.filter((n) => n.opType === "Add").flatMap((n) => n.input));
  return names.some((n) => convOutputs.has(n) && addInputs.has(n));
}
