// MatMul against onnxruntime-node: two run-time operands at rank 1 to 4 with numpy batch broadcasting (attention's
// Q K^T and P V), and constant weights on 3-D and 4-D inputs, at odd sizes, batch 1 and 3, within 1e-5 relative.
import { describe, it } from "vitest";
import { compare, graphOf, inputMaker } from "@test/support/op-graphs";

const { int, live, constF } = inputMaker(20261202);

describe("MatMul against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`multiplies run-time operands batch matrix by batch matrix at rank 3 and 4, batch ${batch}`, async () => {
      for (let t = 0; t < 3; t++) {
        const [H, M, K, N] = [int(1, 5), int(1, 19), int(1, 37), int(1, 23)];
        const r3 = [live("a", [batch * H, M, K]), live("b", [batch * H, K, N])];
        await compare(graphOf("MatMul", r3, {}, 3), r3);
        const r4 = [live("a", [batch, H, M, K]), live("b", [batch, H, K, N])];
        await compare(graphOf("MatMul", r4, {}, 4), r4);
      }
    });

    it(`broadcasts batch dims of either operand, batch ${batch}`, async () => {
      const [H, M, K, N] = [int(2, 4), int(3, 9), int(5, 17), int(3, 11)];
      const shapes: [number[], number[]][] = [
        [[batch, H, M, K], [K, N]], // B shared: one tall GEMM
        [[batch, H, M, K], [1, H, K, N]],
        [[batch, 1, M, K], [1, H, K, N]],
        [[M, K], [batch, H, K, N]],
        [[H, M, K], [batch, 1, K, N]],
        [[batch, 1, M, K], [H, K, N]],
      ];
      for (const [a, b] of shapes) {
        const ins = [live("a", a), live("b", b)];
        await compare(graphOf("MatMul", ins, {}, Math.max(a.length, b.length)), ins);
      }
    });

    it(`promotes rank-1 operands as numpy does, batch ${batch}`, async () => {
      const [M, K, N] = [int(2, 9), int(3, 17), int(2, 11)];
      const left = [live("a", [K]), live("b", [batch, K, N])];
      await compare(graphOf("MatMul", left, {}, 2), left);
      const right = [live("a", [batch, M, K]), live("b", [K])];
      await compare(graphOf("MatMul", right, {}, 2), right);
      const both = [live("a", [K]), live("b", [K])];
      await compare(graphOf("MatMul", both, {}, 0), both);
    });

    it(`multiplies 3-D and 4-D inputs by a constant [K, N] weight, and by batched constant weights, batch ${batch}`, async () => {
      const [H, S, K, N] = [int(2, 4), int(1, 13), int(1, 41), int(1, 29)];
      for (const dims of [[batch, S, K], [batch, H, S, K]]) {
        const ins = [live("x", dims), constF("w", [K, N])];
        await compare(graphOf("MatMul", ins, {}, dims.length), ins);
      }
      const batched = [live("x", [batch, H, S, K]), constF("w", [H, K, N])];
      await compare(graphOf("MatMul", batched, {}, 4), batched);
      const vector = [live("x", [batch, S, K]), constF("w", [K])];
      await compare(graphOf("MatMul", vector, {}, 2), vector);
      const left = [constF("w", [S, K]), live("x", [batch, K, N])];
      await compare(graphOf("MatMul", left, {}, 3), left);
    });
  }

  it("computes attention's Q K^T and P V shapes of a small encoder", async () => {
    const [B, H, S, D] = [3, 4, 13, 16];
    const qk = [live("q", [B * H, S, D]), live("k", [B * H, D, S])];
    await compare(graphOf("MatMul", qk, {}, 3), qk);
    const pv = [live("p", [B, H, S, S]), live("v", [B, H, S, D])];
    await compare(graphOf("MatMul", pv, {}, 4), pv);
  });
});
