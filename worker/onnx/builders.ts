// Pure graph builders in the spirit of onnx.helper: nodes, value infos, graphs and models from plain data.
import { create } from "@bufbuild/protobuf";
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType as AT,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "onnx-buf";

export type AttributeValue = number | string | number[] | TensorProto | { float: number } | { floats: number[] };

function makeAttribute(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === "number") {
    return Number.isInteger(value)
      ? create(AttributeProtoSchema, { name, type: AT.INT, i: BigInt(value) })
      : create(AttributeProtoSchema, { name, type: AT.FLOAT, f: value });
  }
  if (typeof value === "string") {
    return create(AttributeProtoSchema, { name, type: AT.STRING, s: new TextEncoder().encode(value) as Uint8Array<ArrayBuffer> });
  }
  if (Array.isArray(value)) {
    return create(AttributeProtoSchema, { name, type: AT.INTS, ints: value.map((v) => BigInt(v)) });
  }
  if ("float" in value) return create(AttributeProtoSchema, { name, type: AT.FLOAT, f: value.float });
  if ("floats" in value) return create(AttributeProtoSchema, { name, type: AT.FLOATS, floats: value.floats });
  return create(AttributeProtoSchema, { name, type: AT.TENSOR, t: value });
}

/** A node; attributes are sorted by name so that builders are deterministic. */
export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attributes: Record<string, AttributeValue> = {},
  domain = "",
): NodeProto {
  const attribute = Object.keys(attributes)
    .sort()
    .map((k) => makeAttribute(k, attributes[k]!));
  return create(NodeProtoSchema, { opType, input: inputs, output: outputs, name, attribute, domain });
}

/** A tensor value info; a string dim is symbolic (dim_param), null leaves it unknown. */
export function makeValueInfo(name: string, elemType: number, shape: (number | string | null)[]): ValueInfoProto {
  const dim = shape.map((d) =>
    create(TensorShapeProto_DimensionSchema, {
      value:
        d === null
          ? { case: undefined }
          : typeof d === "number"
            ? { case: "dimValue", value: BigInt(d) }
            : { case: "dimParam", value: d },
    }),
  );
  const tensorType = create(TypeProto_TensorSchema, { elemType, shape: create(TensorShapeProtoSchema, { dim }) });
  return create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: "tensorType", value: tensorType } }) });
}

export function makeGraph(
  nodes: NodeProto[],
  name: string,
  inputs: ValueInfoProto[],
  outputs: ValueInfoProto[],
  initializers: TensorProto[] = [],
): GraphProto {
  return create(GraphProtoSchema, { node: nodes, name, input: inputs, output: outputs, initializer: initializers });
}

export function makeModel(graph: GraphProto, opsets: Record<string, number> = { "": 13 }, irVersion = 8): ModelProto {
  const opsetImport = Object.keys(opsets)
    .sort()
    .map((domain) => create(OperatorSetIdProtoSchema, { domain, version: BigInt(opsets[domain]!) }));
  return create(ModelProtoSchema, {
    irVersion: BigInt(irVersion),
    producerName: "slimserve",
    graph,
    opsetImport,
  });
}
