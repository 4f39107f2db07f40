// Debian's libonnx-testdata: ONNX's own operator/backend test models, a corpus we did not write.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { ModelProto } from "onnx-buf";
import { ort, tensorFromPb } from "@test/support/ort-node";

export const CORPUS_ROOT = process.env.ONNX_TESTDATA ?? "/usr/share/libonnx-testdata/data";

export interface CorpusCase {
  name: string;
  dir: string;
  model: string;
}

export function corpusCases(): CorpusCase[] {
  if (!existsSync(CORPUS_ROOT)) {
    throw new Error(`ONNX test corpus missing at ${CORPUS_ROOT}: npm test installs it (scripts/prerequisites.mjs), or apt-get install libonnx-testdata`);
  }
  const cases: CorpusCase[] = [];
  for (const group of readdirSync(CORPUS_ROOT).sort()) {
    const gdir = `${CORPUS_ROOT}/${group}`;
    for (const t of readdirSync(gdir).sort()) {
      const model = `${gdir}/${t}/model.onnx`;
      if (existsSync(model)) cases.push({ name: `${group}/${t}`, dir: `${gdir}/${t}`, model });
    }
  }
  return cases;
}

/** The feeds of test_data_set_0 by graph input name, or null when they are missing or of a type not decoded. */
export function loadFeeds(c: CorpusCase, model: ModelProto): Record<string, ort.Tensor> | null {
  const dir = `${c.dir}/test_data_set_0`;
  if (!existsSync(dir)) return null;
  const initializers = new Set(model.graph!.initializer.map((t) => t.name));
  const names = model.graph!.input.map((v) => v.name).filter((n) => !initializers.has(n));
  const files = readdirSync(dir).filter((f) => f.startsWith("input_")).sort((a, b) => parseInt(a.slice(6)) - parseInt(b.slice(6)));
  if (files.length !== names.length) return null;
  const feeds: Record<string, ort.Tensor> = {};
  for (let i = 0; i < files.length; i++) {
    const t = tensorFromPb(readFileSync(`${dir}/${files[i]}`));
    if (!t) return null;
    feeds[names[i]!] = t.tensor;
  }
  return feeds;
}
