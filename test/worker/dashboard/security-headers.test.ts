// The pages' CSP: the one inline script the dashboard renders (the job page's) is the one its hash allows.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { JobPage } from "@worker/dashboard/pages";
import { contentSecurityPolicy } from "@worker/dashboard/security-headers";

describe("contentSecurityPolicy", () => {
  it("allows the job page's inline script by its SHA-256 and forbids framing", async () => {
    const page = String(JobPage({ job: { id: "j1", status: "running", stage: "calibrate", progress: 0.42 } }));
    const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    const hash = createHash("sha256").update(scripts[0]!).digest("base64");
    const csp = await contentSecurityPolicy();
    expect(csp).toContain(`script-src 'sha256-${hash}'`);
    expect(csp).toContain("frame-ancestors 'none'");
  });
});
