// A doc section generated from committed results, between two markers: splice it in, render what the doc should
// hold, rewrite the doc, and the `--check` / rewrite command line. bench/render.mjs and bench/render-zoo.mjs each
// describe one such section.
import { readFileSync, writeFileSync } from "node:fs";

/**
 * @param {{ doc: string, results: string, begin: string, end: string, render: (results: any) => string }} section
 *   the doc's path, the results' path, the two markers, and how results become the section's text
 */
export function generatedSection(section) {
  const docName = section.doc.slice(section.doc.lastIndexOf("docs/"));
  /** `doc` with the text between the markers replaced by `generated`; throws when a marker is missing. */
  const splice = (/** @type {string} */ doc, /** @type {string} */ generated) => {
    const begin = doc.indexOf(section.begin);
    const end = doc.indexOf(section.end);
    if (begin < 0 || end < begin) throw new Error(`${docName} needs the markers ${section.begin} and ${section.end}`);
    return `${doc.slice(0, begin + section.begin.length)}\n${generated}\n${doc.slice(end)}`;
  };
  /** What the doc should hold for the committed results. */
  const rendered = (resultsPath = section.results, docPath = section.doc) =>
    splice(readFileSync(docPath, "utf8"), section.render(JSON.parse(readFileSync(resultsPath, "utf8"))));
  /** Rewrites the doc from the results; true when it changed. */
  const write = (resultsPath = section.results, docPath = section.doc) => {
    const next = rendered(resultsPath, docPath);
    const changed = next !== readFileSync(docPath, "utf8");
    if (changed) writeFileSync(docPath, next);
    return changed;
  };
  /** The command line: `--check` exits 1 when the committed doc differs; otherwise the doc is rewritten. */
  const main = (/** @type {string[]} */ argv, /** @type {string} */ command) => {
    const resultsName = section.results.slice(section.results.lastIndexOf("bench/"));
    if (argv.includes("--check")) {
      if (rendered() !== readFileSync(section.doc, "utf8")) {
        console.error(`${docName} differs from ${resultsName}: run ${command}`);
        process.exit(1);
      }
    } else {
      console.log(write() ? `${docName} rewritten` : `${docName} unchanged`);
    }
  };
  return { splice, rendered, write, main };
}
