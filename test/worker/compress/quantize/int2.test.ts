// INT2 storage against the ONNX spec (docs/technical/int2: four 2-bit fields per byte, x0 in the least significant
// bits, zero padding in the last byte) and against a plain per-element reference.
import { describe, expect, it } from "vitest";
import { int2Dequantize } from "@worker/compress/quantize/int2";
import { packInt2, unpackInt2 } from "@worker/onnx/encoding";
import { DT } from "@worker/onnx/dtype";

/** The spec's pack(x0, x1, x2, x3), written out per byte. */
function specPack(levels: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < levels.length; i += 4) {
    const f = (j: number) => (i + j < levels.length ? levels[i + j]! & 0x03 : 0);
    out.push(f(0) | (f(1) << 2) | (f(2) << 4) | (f(3) << 6));
  }
  return out;
}

describe("INT2 packing", () => {
  it("puts element 0 in the lowest two bits: [1, 0, -1, -2] is 0b10_11_00_01", () => {
    expect([...packInt2([1, 0, -1, -2])]).toEqual([0b10110001]);
  });

  it("pads the last byte with zero bits and takes ceil(n / 4) bytes", () => {
    expect([...packInt2([-1, -1, -1, -1, -1])]).toEqual([0xff, 0b00000011]);
    expect(packInt2(new Int8Array(9)).byteLength).toBe(3);
  });

  it("matches the spec's formula on 1001 random levels and unpacks them back", () => {
    let s = 7;
    const levels = Array.from({ length: 1001 }, () => ((s = (s * 1103515245 + 12345) >>> 0) % 4) - 2);
    expect([...packInt2(levels)]).toEqual(specPack(levels));
    expect([...unpackInt2(packInt2(levels), levels.length)]).toEqual(levels);
  });

  it("rejects a level outside [-2, 1]", () => {
    expect(() => packInt2([0, 2])).toThrow(/level 2 at 1 is outside \[-2, 1\]/);
    expect(() => packInt2([-3])).toThrow(RangeError);
  });

  it("writes an INT2 initializer, float scales and a per-axis or blocked DequantizeLinear", () => {
    const levels = Int8Array.from([1, -1, 0, 1, 0, -1]);
    const names = { levels: "w_q", scale: "w_s", node: "w_dq", output: "w_f" };
    const perAxis = int2Dequantize({ levels, dims: [3, 2], scales: Float32Array.from([0.5, 2]), scaleDims: [2], axis: 1, blockSize: 0 }, names);
    const [q, s] = perAxis.initializers;
    expect(q!.dataType).toBe(DT.INT2);
    expect(q!.dims).toEqual([3n, 2n]);
    expect([...q!.rawData]).toEqual(specPack([...levels]));
    expect(s!.dataType).toBe(DT.FLOAT);
    expect(perAxis.nodes[0]!.opType).toBe("DequantizeLinear");
    expect(perAxis.nodes[0]!.attribute.map((a) => [a.name, a.i])).toEqual([["axis", 1n]]);
    const blocked = int2Dequantize({ levels, dims: [3, 2], scales: new Float32Array(4), scaleDims: [2, 2], axis: 0, blockSize: 2 }, names);
    expect(blocked.nodes[0]!.attribute.map((a) => [a.name, a.i])).toEqual([["axis", 0n], ["block_size", 2n]]);
  });
});
