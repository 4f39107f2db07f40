// Rounding quality through the API in workerd, shared by the quality bar (test/quality/rounding.quality.worker.test.ts,
// the MNIST MLPs) and the quality benchmark (bench/quality.worker.ts, every reference model): each recipe with nearest
// and GPTQ rounding (calibrated on the first 1000 test images; the benchmark adds AdaRound, and GPTQ on quantized
// inputs) and, at 2 and 1 bits, each with bias correction too, evaluated on 2000 held-out test images.
import { expect, inject } from "vitest";
import { api, postJson, uploadModel } from "./api";
import { FASHION_HELDOUT_FIXTURE, HELDOUT_FIXTURE, HELDOUT_IMAGES_FIXTURE } from "./reference-models";

/** A fixture file the global setup provided (workerd tests cannot read files). */
export function fixture(file: string): Uint8Array {
  const b64 = inject("fixtures")[file];
  if (!b64) throw new Error(`fixture ${file} was not provided by the global setup`);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

export async function uploadDataset(file: string): Promise<string> {
  const up = await api("/v1/datasets", { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: fixture(file) });
  expect(up.status).toBe(201);
  return ((await up.json()) as { id: string }).id;
}

export const RECIPES: Record<string, Record<string, unknown>> = {
  "int4 per-channel": { bits: 4, granularity: "per-channel" },
  "int4 block-32": { bits: 4, granularity: { block: 32 } },
  "2-bit block-32": { bits: 2, granularity: { block: 32 } },
  "2-bit INT2 block-32": { bits: 2, granularity: { block: 32 }, grid: "int2" },
  "1-bit per-channel": { bits: 1 },
};

/**
 * The int4 recipes on asymmetric grids (uint4 with a zero point per scale), measured by the benchmark only: nearest,
 * GPTQ and AdaRound, and GPTQ on quantized inputs (the search's last 4-bit candidate).
 */
export const ASYMMETRIC_RECIPES: Record<string, Record<string, unknown>> = {
  "int4 per-channel asymmetric": { bits: 4, granularity: "per-channel", symmetric: false },
  "int4 block-32 asymmetric": { bits: 4, granularity: { block: 32 }, symmetric: false },
};

/** A reference model, the data it is calibrated on and the held-out data it is evaluated on. */
export interface Case {
  name: string;
  model: string;
  calibration: string;
  heldout: string;
}

export const MLP_CASES: Case[] = ["mnist-mlp", "lenet-300-100"].map((name) => ({ name, model: `models/${name}.onnx`, calibration: "data/mnist-test-1000.npz", heldout: HELDOUT_FIXTURE }));

export const CNN_CASES: Case[] = [
  { name: "mnist-cnn", model: "models/mnist-cnn.onnx", calibration: "data/mnist-test-1000-img.npz", heldout: HELDOUT_IMAGES_FIXTURE },
  { name: "fashion-cnn", model: "models/fashion-cnn.onnx", calibration: "data/fashion-test-1000-img.npz", heldout: FASHION_HELDOUT_FIXTURE },
  { name: "fashion-separable-cnn", model: "models/fashion-separable-cnn.onnx", calibration: "data/fashion-test-1000-img.npz", heldout: FASHION_HELDOUT_FIXTURE },
];

/** One measured variant: the table's row. */
export interface QualityRow {
  model: string;
  recipe: string;
  rounding: string;
  fp32: number;
  accuracy: number;
  drop: number;
  interval: [number, number];
}

/** The recipes also measured with compensated rounding on quantized inputs (`inputs: "quantized"`), as "<label>, quantized inputs". */
export const QUANTIZED_INPUT_RECIPES = ["int4 per-channel", "int4 block-32", "2-bit INT2 block-32", "1-bit per-channel"];

/**
 * Every recipe of RECIPES on the case: its rows (also printed as one `{"quality": rows}` line), and drops by recipe and
 * variant. With `adaround`, AdaRound's rounding too (the benchmark's table; tens of seconds per recipe and model), and at 2 and 1 bits AdaRound with bias correction; with
 * `clipped`, nearest rounding on clipped scales at 4 bits; with `quantizedInputs`, GPTQ with and without bias
 * correction on quantized inputs for QUANTIZED_INPUT_RECIPES; with `asymmetric`, ASYMMETRIC_RECIPES.
 */
export async function measureRounding(
  c: Case,
  options: { adaround?: boolean; clipped?: boolean; quantizedInputs?: boolean; asymmetric?: boolean } = {},
): Promise<{ rows: QualityRow[]; drops: Record<string, Record<string, number>> }> {
  const model = ((await (await uploadModel(fixture(c.model), { name: c.name })).json()) as { id: string }).id;
  const calibration = await uploadDataset(c.calibration);
  const heldout = await uploadDataset(c.heldout);
  const rows: QualityRow[] = [];
  const drops: Record<string, Record<string, number>> = {};
  const measure = async (label: string, quantize: Record<string, unknown>, variant: string, inputs: "float" | "quantized") => {
    const method = variant.replace(/\+(bias|mse)$/, "");
    const corrected = variant.endsWith("+bias");
    const calibrated = method !== "nearest" || corrected ? { calibration: { dataset: calibration, samples: 1000 } } : {};
    const rounding = inputs === "quantized" ? { method, inputs } : method;
    const recipe = { ...quantize, rounding, ...(corrected ? { biasCorrection: true } : {}), ...(variant.endsWith("+mse") ? { scale: "mse" } : {}), ...calibrated };
    const res = await postJson(`/v1/models/${model}/variants?wait=25`, { quantize: recipe, eval: { dataset: heldout } });
    expect(res.status, `${label} ${variant}`).toBeLessThan(300);
    const v = (await res.json()) as { eval: { accuracy: { fp32: number; variant: number; drop: number }; intervals: { accuracyDrop: [number, number] } } };
    (drops[label] ??= {})[variant] = v.eval.accuracy.drop;
    rows.push({ model: c.name, recipe: label, rounding: variant, fp32: v.eval.accuracy.fp32, accuracy: v.eval.accuracy.variant, drop: v.eval.accuracy.drop, interval: v.eval.intervals.accuracyDrop });
  };
  for (const [label, quantize] of Object.entries(RECIPES)) {
    // Bias correction is measured where rounding leaves points to win back (2 and 1 bits).
    const roundings = ["nearest", "gptq", ...(options.adaround ? ["adaround"] : [])];
    // Clipped scales (scale 'mse') with nearest rounding at 4 bits, where the grid is absmax's otherwise.
    const clipped = options.clipped && quantize.bits === 4 ? ["nearest+mse"] : [];
    const variants = (quantize.bits as number) <= 2 ? [...roundings, "nearest+bias", "gptq+bias", ...(options.adaround ? ["adaround+bias"] : [])] : [...roundings, ...clipped];
    for (const variant of variants) await measure(label, quantize, variant, "float");
  }
  // On quantized inputs, toward the float outputs: GPTQ with and without bias correction (1 bit: with), as the search
  // tries it. AdaRound takes the option too; its steps cost the same on either inputs, so the table leaves it out.
  for (const label of options.quantizedInputs ? QUANTIZED_INPUT_RECIPES : []) {
    const variants = RECIPES[label]!.bits === 1 ? ["gptq+bias"] : ["gptq", "gptq+bias"];
    for (const variant of variants) await measure(`${label}, quantized inputs`, RECIPES[label]!, variant, "quantized");
  }
  for (const [label, quantize] of Object.entries(options.asymmetric ? ASYMMETRIC_RECIPES : {})) {
    for (const variant of ["nearest", "gptq", ...(options.adaround ? ["adaround"] : [])]) await measure(label, quantize, variant, "float");
    await measure(`${label}, quantized inputs`, quantize, "gptq", "quantized");
  }
  console.log(JSON.stringify({ quality: rows }));
  return { rows, drops };
}
