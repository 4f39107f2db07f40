import { create } from "@bufbuild/protobuf";
import { SparseTensorProtoSchema, TensorProtoSchema, type TensorProto } from "onnx-buf";
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { validateModel } from "@worker/onnx/validate";
import { DomainError } from "@worker/domain-error";
import { DECLARED_ELEMENTS_FLOOR, MAX_DECLARED_ELEMENTS } from "@worker/onnx/limits";

const x = makeValueInfo("x", DT.FLOAT, [1, 4]);
const y = makeValueInfo("y", DT.FLOAT, [1, 4]);

/** y = x + w, with `w` as given (dense or sparse). */
function withInitializer(w: TensorProto | null, sparse: ReturnType<typeof sparseTensor>[] = []) {
  const g = makeGraph([makeNode("Add", ["x", "w"], ["y"], "add")], "g", [x], [y], w ? [w] : []);
  g.sparseInitializer.push(...sparse);
  return makeModel(g);
}

const tensor = (fields: Partial<TensorProto>) => create(TensorProtoSchema, { name: "w", dataType: DT.FLOAT, ...fields } as never);

function sparseTensor(dims: bigint[], values: TensorProto, indices?: TensorProto) {
  return create(SparseTensorProtoSchema, { dims, values, indices });
}

const int64s = (name: string, dims: number[], values: number[]) =>
  makeTensor(name, DT.INT64, dims, new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer) as never);

const code = (f: () => void) => {
  try {
    f();
    return "accepted";
  } catch (err) {
    return err instanceof DomainError ? err.code : `not a DomainError: ${err}`;
  }
};

describe("declared sizes are backed by bytes", () => {
  it("accepts a tensor whose raw_data or typed field holds exactly its dims", () => {
    expect(code(() => validateModel(withInitializer(makeTensor("w", DT.FLOAT, [1, 4], new Float32Array(4)))))).toBe("accepted");
    expect(code(() => validateModel(withInitializer(tensor({ dims: [1n, 4n], floatData: [1, 2, 3, 4] }))))).toBe("accepted");
  });

  it("refuses a tensor with dims and empty raw_data and no typed data, naming it", () => {
    expect(() => validateModel(withInitializer(tensor({ dims: [20000n, 10000n] })))).toThrow(/initializer 'w' declares dims \[20000, 10000\] but holds 0 values/);
  });

  it("refuses short typed data and short or long raw_data", () => {
    expect(() => validateModel(withInitializer(tensor({ dims: [1n, 4n], floatData: [1] })))).toThrow(/holds 1 values, expected 4/);
    expect(() => validateModel(withInitializer(tensor({ dims: [1n, 4n], rawData: new Uint8Array(12) })))).toThrow(/12 bytes of raw_data, expected 16/);
  });

  it("refuses negative dims and dims whose product is not addressable", () => {
    expect(() => validateModel(withInitializer(tensor({ dims: [-1n, 4n], floatData: [] })))).toThrow(/negative dim/);
    expect(() => validateModel(withInitializer(tensor({ dims: [2n ** 40n, 2n ** 40n] })))).toThrow(/too many elements/);
  });

  it("refuses external data in a model uploaded alone, saying how to upload its files", () => {
    expect(() => validateModel(withInitializer(tensor({ dims: [1n, 4n], dataLocation: 1 })))).toThrow(/external data\): upload each file it names first/);
  });

  it("checks tensors carried by attributes (a Constant's value)", () => {
    const g = makeGraph([makeNode("Constant", [], ["c"], "const", { value: tensor({ name: "c", dims: [100000n, 1000n] }) }), makeNode("Add", ["x", "c"], ["y"], "add")], "g", [x], [y]);
    expect(() => validateModel(makeModel(g))).toThrow(/attribute 'value' of node const declares dims/);
  });

  it("answers a 120-byte model that declares 2e8 parameters with a 4xx, before allocating them", () => {
    // A fully pruned sparse initializer: dims only, no values, no indices.
    const bomb = withInitializer(null, [sparseTensor([20000n, 10000n], tensor({ name: "w", dims: [0n] }))]);
    const bytes = encodeModel(bomb);
    expect(bytes.byteLength).toBeLessThan(200);
    let err: unknown;
    try {
      validateModel(decodeModel(bytes));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe("payload_too_large");
    expect((err as Error).message).toMatch(/declare 200000000 elements.*MAX_DECLARED_ELEMENTS/);
  });

  it("bounds declared elements by the bytes present, above a floor", () => {
    const justFloor = withInitializer(null, [sparseTensor([BigInt(DECLARED_ELEMENTS_FLOOR)], tensor({ name: "w", dims: [0n] }))]);
    expect(code(() => validateModel(justFloor))).toBe("accepted");
    const over = withInitializer(null, [sparseTensor([BigInt(DECLARED_ELEMENTS_FLOOR + 1000)], tensor({ name: "w", dims: [0n] }))]);
    expect(() => validateModel(over)).toThrow(/DECLARED_ELEMENTS_PER_BYTE/);
    expect(MAX_DECLARED_ELEMENTS).toBeGreaterThan(DECLARED_ELEMENTS_FLOOR);
  });
});

describe("sparse initializers", () => {
  const values = (n: number) => makeTensor("w", DT.FLOAT, [n], new Float32Array(n).fill(1));

  it("accepts linear and coordinate indices within dims", () => {
    expect(code(() => validateModel(withInitializer(null, [sparseTensor([1n, 4n], values(2), int64s("i", [2], [0, 3]))])))).toBe("accepted");
    expect(code(() => validateModel(withInitializer(null, [sparseTensor([1n, 4n], values(2), int64s("i", [2, 2], [0, 0, 0, 3]))])))).toBe("accepted");
  });

  it("refuses an index outside the dense tensor, naming it", () => {
    expect(() => validateModel(withInitializer(null, [sparseTensor([1n, 4n], values(2), int64s("i", [2], [0, 4]))])))
      .toThrow(/sparse initializer 'w' index 4 \(value 1\) is outside \[0, 4\)/);
    expect(() => validateModel(withInitializer(null, [sparseTensor([1n, 4n], values(1), int64s("i", [1, 2], [1, 0]))])))
      .toThrow(/coordinate 1 of value 0 is outside dim 0/);
    expect(() => validateModel(withInitializer(null, [sparseTensor([1n, 4n], values(1), int64s("i", [1], [-1]))]))).toThrow(/index -1/);
  });

  it("refuses counts that disagree: indices for another NNZ, more values than elements, values without indices", () => {
    expect(() => validateModel(withInitializer(null, [sparseTensor([1n, 4n], values(2), int64s("i", [3], [0, 1, 2]))]))).toThrow(/indices have dims \[3\], expected \[2\] or \[2, 2\]/);
    expect(() => validateModel(withInitializer(null, [sparseTensor([1n, 4n], values(5), int64s("i", [5], [0, 1, 2, 3, 3]))]))).toThrow(/5 values for 4 elements/);
    expect(() => validateModel(withInitializer(null, [sparseTensor([1n, 4n], values(2))]))).toThrow(/2 values and no indices/);
  });

  it("refuses indices that are not int64 or whose bytes are short", () => {
    const i32 = makeTensor("i", DT.INT32, [2], new Int32Array([0, 1]));
    expect(() => validateModel(withInitializer(null, [sparseTensor([1n, 4n], values(2), i32)]))).toThrow(/indices are int32, expected int64/);
    const short = tensor({ name: "i", dataType: DT.INT64, dims: [2n], rawData: new Uint8Array(8) });
    expect(() => validateModel(withInitializer(null, [sparseTensor([1n, 4n], values(2), short)]))).toThrow(/indices has 8 bytes of raw_data, expected 16/);
  });
});
