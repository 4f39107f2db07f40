// The dashboard's session in workerd: sign-in sets a Secure HttpOnly SameSite=Strict cookie over HTTPS, pages read the
// API as that token's tenant, a bad or revoked token shows the sign-in form again.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { buildMlp } from "@test/support/models";

const form = (token: string) => ({
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: "https://x" },
  body: new URLSearchParams({ token }).toString(),
  redirect: "manual" as const,
});

describe("dashboard session", () => {
  it("shows the sign-in form to a visitor without a token, with no data in it", async () => {
    const res = await SELF.fetch("https://x/");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<label for="token">API token</label>');
    expect(html).not.toContain('id="models"');
  });

  it("refuses an unknown token without setting a cookie", async () => {
    const res = await SELF.fetch("https://x/login", form("nope"));
    expect(res.status).toBe(401);
    expect(res.headers.get("Set-Cookie")).toBeNull();
    expect(await res.text()).toContain("That token is not accepted.");
  });

  it("sets a Secure, HttpOnly, SameSite=Strict session cookie for a valid token and redirects home", async () => {
    const res = await SELF.fetch("https://x/login", form("test-token"));
    expect(res.status).toBe(303);
    expect(res.headers.get("Location")).toBe("/");
    const cookie = res.headers.get("Set-Cookie")!;
    expect(cookie).toMatch(/^slimserve_token=test-token;/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).not.toMatch(/Max-Age|Expires/); // a session cookie
  });

  it("refuses a sign-in form posted from another site", async () => {
    const res = await SELF.fetch("https://x/login", { ...form("test-token"), headers: { ...form("").headers, Origin: "https://evil.example" } });
    expect(res.status).toBe(403);
    expect(res.headers.get("Set-Cookie")).toBeNull();
  });

  it("lists only the signed-in tenant's models", async () => {
    const up = await SELF.fetch("https://x/v1/models?name=alpha-only", {
      method: "POST",
      headers: { Authorization: "Bearer test-token", "Content-Type": "application/octet-stream" },
      body: buildMlp([4, 8, 2], 21),
    });
    const { id } = (await up.json()) as { id: string };
    const alpha = await (await SELF.fetch("https://x/", { headers: { Cookie: "slimserve_token=test-token" } })).text();
    expect(alpha).toContain(`data-model="${id}"`);
    const beta = await (await SELF.fetch("https://x/", { headers: { Cookie: "slimserve_token=other-token" } })).text();
    expect(beta).not.toContain(id);
    const page = await SELF.fetch(`https://x/models/${id}`, { headers: { Cookie: "slimserve_token=other-token" } });
    expect(page.status).toBe(404);
  });

  it("clears a cookie whose token is no longer accepted and asks to sign in again", async () => {
    const res = await SELF.fetch("https://x/", { headers: { Cookie: "slimserve_token=revoked" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("Set-Cookie")).toMatch(/^slimserve_token=;.*Max-Age=0/);
    expect(await res.text()).toContain("no longer accepted");
  });

  it("signs out by expiring the cookie", async () => {
    const res = await SELF.fetch("https://x/logout", { method: "POST", headers: { Cookie: "slimserve_token=test-token", Origin: "https://x" }, redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("Set-Cookie")).toMatch(/^slimserve_token=;.*Max-Age=0/);
  });
});

describe("security headers on HTML pages", () => {
  const pages: [string, string, RequestInit][] = [
    ["the sign-in form", "https://x/", {}],
    ["a signed-in page", "https://x/", { headers: { Cookie: "slimserve_token=test-token" } }],
    ["an error page", `https://x/models/${"0".repeat(24)}`, { headers: { Cookie: "slimserve_token=test-token" } }],
    ["a refused form", "https://x/login", { ...form("test-token"), headers: { ...form("").headers, Origin: "https://evil.example" } }],
    ["the API reference", "https://x/docs", {}],
  ];
  for (const [what, url, init] of pages) {
    it(`sends CSP (no framing), nosniff and no-referrer on ${what}`, async () => {
      const res = await SELF.fetch(url, init);
      expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
      const csp = res.headers.get("Content-Security-Policy") ?? "";
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/]{43}='(;|$)/);
      expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
      expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
    });
  }

  it("leaves JSON answers without a page policy", async () => {
    const res = await SELF.fetch("https://x/v1/health");
    expect(res.headers.get("Content-Security-Policy")).toBeNull();
  });
});
