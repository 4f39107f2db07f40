// Lifting ONNX's own test models (opsets 7-24) to 13, 21 and 25 keeps what onnxruntime-node computes: every model
// the lift accepts must load and give its original outputs, bit for bit or within 1e-6.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { liftDefaultOpset } from "@worker/onnx/lift";
import { defaultOpset } from "@worker/onnx/validate";
import { ort, runReference } from "@test/support/ort-node";
import { corpusCases, loadFeeds } from "./corpus";

const TOLERANCE = 1e-6;

/** Why two outputs differ beyond the tolerance, or null when they agree. */
function difference(got: ort.Tensor | undefined, want: ort.Tensor): string | null {
  if (!got) return "missing";
  if (got.type !== want.type) return `type ${got.type} != ${want.type}`;
  if (got.dims.join(",") !== want.dims.join(",")) return `dims [${got.dims}] != [${want.dims}]`;
  const a = got.data as ArrayLike<number | bigint | string | boolean>;
  const b = want.data as ArrayLike<number | bigint | string | boolean>;
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y || (typeof x === "number" && typeof y === "number" && ((Number.isNaN(x) && Number.isNaN(y)) || Math.abs(x - y) <= TOLERANCE))) continue;
    return `element ${i}: ${String(x)} != ${String(y)}`;
  }
  return null;
}

async function tryRun(bytes: Uint8Array, feeds: Record<string, ort.Tensor>) {
  try {
    return await runReference(bytes, feeds);
  } catch {
    return null;
  }
}

describe("lifting the ONNX test corpus", () => {
  it("lifted models give onnxruntime the same outputs as the originals, at opset 21 and 25", async () => {
    const { tally, failures } = await liftCorpus(13, 24, [21, 25]);
    expect(failures).toEqual([]);
    expect(tally.runnable).toBeGreaterThan(400);
    expect(tally.lifted21).toBeGreaterThan(300);
    expect(tally.lifted25).toBeGreaterThan(300);
  }, 180_000);

  it("older models (opsets 7-12) lifted to 13 and 21 give the same outputs", async () => {
    const { tally, failures } = await liftCorpus(7, 12, [13, 21]);
    expect(failures).toEqual([]);
    expect(tally.runnable).toBeGreaterThan(150);
    expect(tally.lifted13).toBeGreaterThan(150);
    expect(tally.lifted21).toBeGreaterThan(150);
  }, 180_000);
});

async function liftCorpus(lowest: number, highest: number, targets: number[]) {
  {
    const tally: Record<string, number> & { runnable: number } = { runnable: 0, ...Object.fromEntries(targets.map((t) => [`lifted${t}`, 0])) };
    const refused = new Map<string, number>();
    const failures: string[] = [];
    for (const c of corpusCases()) {
      const bytes = readFileSync(c.model);
      const model = decodeModel(bytes);
      const opset = defaultOpset(model);
      if (opset < lowest || opset > highest) continue;
      const feeds = loadFeeds(c, model);
      if (!feeds) continue;
      const before = await tryRun(bytes, feeds);
      if (!before) continue; // an op or type this onnxruntime build does not run at the model's own opset
      tally.runnable += 1;
      for (const to of targets) {
        if (opset >= to) continue;
        const lifted = liftDefaultOpset(model, to);
        if ("reason" in lifted) {
          const op = lifted.reason.replace(/^lifting from opset \d+: /, "").split(" ")[0]!;
          refused.set(`${op}->${to}`, (refused.get(`${op}->${to}`) ?? 0) + 1);
          continue;
        }
        if (defaultOpset(lifted.model) !== to) failures.push(`${c.name} @${to}: lifted to opset ${defaultOpset(lifted.model)}`);
        tally[`lifted${to}`]! += 1;
        let after: Record<string, ort.Tensor>;
        try {
          after = await runReference(encodeModel({ ...lifted.model, irVersion: lifted.model.irVersion < 10n ? 10n : lifted.model.irVersion }), feeds);
        } catch (e) {
          failures.push(`${c.name} @${to}: onnxruntime rejects the lifted model: ${String(e).slice(0, 200)}`);
          continue;
        }
        for (const [name, want] of Object.entries(before)) {
          const why = difference(after[name], want);
          if (why) failures.push(`${c.name} @${to} ${name}: ${why}`);
        }
      }
    }
    console.info(`lift corpus ${lowest}-${highest}: ${JSON.stringify(tally)} refused ${JSON.stringify(Object.fromEntries([...refused].sort()))}`);
    return { tally, failures };
  }
}
