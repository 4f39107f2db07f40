// README.md and docs/*.md point only at what exists: relative links, their #anchors and the repository paths they
// name in backticks.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { anchors, headingSlug, linkProblems } from "@test/support/markdown-links";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

describe("the documentation's links", () => {
  for (const doc of DOCS) {
    it(`${doc} cites only files, sections and paths that exist`, () => {
      expect(linkProblems(ROOT, join(ROOT, doc), readFileSync(join(ROOT, doc), "utf8"))).toEqual([]);
    });
  }

  it("keeps the README within 12 KB, with a module map", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(12 * 1024);
    expect(anchors(readme).has("module-map")).toBe(true);
  });
});

describe("the link checker", () => {
  const check = (text: string) => linkProblems(ROOT, join(ROOT, "docs/example.md"), text);

  it("makes GitHub's anchors from headings", () => {
    expect(headingSlug("Walk-through: upload → variant → infer → download")).toBe("walk-through-upload--variant--infer--download");
    expect(headingSlug("The offline half: training (`scripts/train/`)")).toBe("the-offline-half-training-scriptstrain");
    expect(headingSlug("Kernel-session loads")).toBe("kernel-session-loads");
    expect([...anchors("# A\n## B\n```\n# not a heading\n```\n## B\n")]).toEqual(["a", "b", "b-1"]);
  });

  it("accepts links, anchors and paths that exist", () => {
    expect(check("[k](kernels.md#the-kernel-engine), [r](../README.md#module-map), [self](#x)\n# X\n`worker/serve/ort.ts`, `kernels/src/`, `hono/jsx`")).toEqual([]);
  });

  it("reports a missing file, a missing section (there or here), a path outside the repository and a missing backticked path", () => {
    expect(check("[a](missing.md) [b](kernels.md#no-such-section) [c](../../outside.md) [d](#nowhere)\n`worker/serve/nope.ts` `../shared/notes`")).toEqual([
      "docs/example.md:1: link missing.md: docs/missing.md does not exist",
      "docs/example.md:1: link kernels.md#no-such-section: docs/kernels.md has no heading #no-such-section",
      "docs/example.md:1: link ../../outside.md points outside the repository",
      "docs/example.md:1: link #nowhere: no heading #nowhere here",
      "docs/example.md:2: path worker/serve/nope.ts does not exist",
      "docs/example.md:2: path ../shared/notes points outside the repository",
    ]);
  });

  it("ignores what fenced code blocks hold", () => {
    expect(check("```sh\nnode worker/none.mjs [x](gone.md)\n```\n")).toEqual([]);
  });
});
