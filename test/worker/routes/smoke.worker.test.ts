import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { buildMlp, randomInput } from "../../support/models";

const auth = { Authorization: "Bearer test-token" };

describe("smoke", () => {
  it("uploads, quantizes and infers", async () => {
    const bytes = buildMlp([16, 32, 4]);
    const up = await SELF.fetch("https://x/v1/models?name=mlp", { method: "POST", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: bytes });
    const model = (await up.json()) as { id: string };
    expect(up.status).toBe(201);
    const v = await SELF.fetch(`https://x/v1/models/${model.id}/variants`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ quantize: { bits: 8 } }) });
    const vj = await v.json();
    expect(v.status, JSON.stringify(vj)).toBe(201);
    for (const bits of ["32", "8"]) {
      const r = await SELF.fetch(`https://x/v1/models/${model.id}/infer?bits=${bits}`, { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ inputs: { input: { type: "float32", dims: [1, 16], data: randomInput(16, 3) } } }) });
      const j = await r.json();
      expect(r.status, JSON.stringify(j)).toBe(200);
      console.log(JSON.stringify(j));
    }
  });
});
