// Debian's libonnx-testdata: ONNX's own operator/backend test models, a corpus we did not write.
import { existsSync, readdirSync } from "node:fs";

export const CORPUS_ROOT = process.env.ONNX_TESTDATA ?? "/usr/share/libonnx-testdata/data";

export interface CorpusCase {
  name: string;
  dir: string;
  model: string;
}

export function corpusCases(): CorpusCase[] {
  if (!existsSync(CORPUS_ROOT)) {
    throw new Error(`ONNX test corpus missing at ${CORPUS_ROOT}: apt-get install libonnx-testdata (see .ci/run)`);
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
