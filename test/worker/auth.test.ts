// Bearer tokens: TOKENS parsed into tenants, and a presented token matched by SHA-256 digest against every known one.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { knownTokens, parseTokens, tenantForToken } from "@worker/auth";

describe("tenantForToken", () => {
  const table = parseTokens("alpha-token:alpha, beta-token:beta");

  it("keeps each known token as its SHA-256 digest, not its text", async () => {
    const known = await knownTokens(table);
    expect(known.map((k) => [Buffer.from(k.digest).toString("hex"), k.tenant])).toEqual([
      [createHash("sha256").update("alpha-token").digest("hex"), "alpha"],
      [createHash("sha256").update("beta-token").digest("hex"), "beta"],
    ]);
  });

  it("finds the tenant of a known token and nothing for a prefix, an extension or a near miss", async () => {
    const known = await knownTokens(table);
    expect(await tenantForToken("alpha-token", known)).toBe("alpha");
    expect(await tenantForToken("beta-token", known)).toBe("beta");
    for (const wrong of ["alpha-toke", "alpha-token1", "alpha-tokem", "", "ALPHA-TOKEN"]) {
      expect(await tenantForToken(wrong, known)).toBeNull();
    }
  });
});
