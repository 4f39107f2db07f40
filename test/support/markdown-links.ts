// What a Markdown document points at, checked against the repository: relative link targets, #anchors (GitHub's
// heading slugs) and repository paths written in backticks. Fenced code blocks are examples, not references: skipped.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";

/** The text with fenced code blocks blanked (line count kept, so line numbers still match). */
export function withoutFences(markdown: string): string {
  let fence: string | null = null;
  return markdown
    .split("\n")
    .map((line) => {
      const open = /^\s*(```+|~~~+)/.exec(line);
      if (fence === null && open) {
        fence = open[1]!.slice(0, 3);
        return "";
      }
      if (fence !== null) {
        if (line.trim().startsWith(fence)) fence = null;
        return "";
      }
      return line;
    })
    .join("\n");
}

/** GitHub's anchor for a heading: formatting dropped, lower case, punctuation removed, each space a hyphen. */
export function headingSlug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .replace(/`/g, "")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, "")
    .replace(/ /g, "-");
}

/** Every anchor the document's headings define, with GitHub's -1, -2 suffixes on repeats. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of withoutFences(markdown).split("\n")) {
    const m = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const slug = headingSlug(m[1]!);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

const EXTENSION = /\.[A-Za-z0-9]+$/;

/**
 * The problems of one document at `file` (absolute) in the repository at `root`, one line each: a relative link whose
 * target is missing or outside the repository, an #anchor no heading of the target defines, a backticked repository
 * path that does not exist.
 */
export function linkProblems(root: string, file: string, markdown: string): string[] {
  const problems: string[] = [];
  const name = relative(root, file);
  const rootEntries = new Set(readdirSync(root));
  const inside = (abs: string) => !relative(root, abs).startsWith("..") && !isAbsolute(relative(root, abs));
  const lines = withoutFences(markdown).split("\n");
  lines.forEach((line, i) => {
    const at = `${name}:${i + 1}`;
    const prose = line.replace(/`[^`]*`/g, "code");
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      const [path = "", anchor] = target.split("#");
      if (path === "") {
        if (anchor !== undefined && !anchors(markdown).has(anchor)) problems.push(`${at}: link ${target}: no heading #${anchor} here`);
        continue;
      }
      const abs = resolve(dirname(file), decodeURIComponent(path));
      if (!inside(abs)) problems.push(`${at}: link ${target} points outside the repository`);
      else if (!existsSync(abs)) problems.push(`${at}: link ${target}: ${relative(root, abs)} does not exist`);
      else if (anchor !== undefined) {
        if (!abs.endsWith(".md")) problems.push(`${at}: link ${target}: an anchor into a file that is not Markdown`);
        else if (!anchors(readFileSync(abs, "utf8")).has(anchor)) problems.push(`${at}: link ${target}: ${relative(root, abs)} has no heading #${anchor}`);
      }
    }
    for (const m of line.matchAll(/`([^`\s]+)`/g)) {
      const path = m[1]!;
      if (!path.includes("/") || !/^[\w.\/-]+$/.test(path) || path.startsWith("/")) continue;
      if (path.startsWith("../")) {
        problems.push(`${at}: path ${path} points outside the repository`);
        continue;
      }
      const first = path.split("/")[0]!;
      if (!rootEntries.has(first) && !EXTENSION.test(path)) continue; // not a repository path (e.g. hono/jsx)
      if (!existsSync(join(root, path))) problems.push(`${at}: path ${path} does not exist`);
    }
  });
  return problems;
}
