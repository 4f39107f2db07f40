// Calibration run: the model with its layer inputs exposed as outputs runs over the recipe's dataset in
// onnxruntime-web, and each activation's values feed the recipe's calibrator (minmax, percentile, entropy). With
// `equalize` the model calibrated is the equalized one (compress/pipeline.ts calibratedModel), whose ranges quantization
// then uses.
import { calibrationTargets, makeCalibrator, type ActivationRanges } from "../compress/calibrate";
import { compensatedTargets, HessianAccumulator, hessianBytes, hessianParts, hessianTargets, type HessianTarget, type LayerHessians } from "../compress/calibrate/hessian";
import { MAX_HESSIAN_BYTES } from "../compress/calibrate/bounds";
import { RowProducts } from "../compress/calibrate/row-products";
import { compressionKernelModule } from "../compress/simd-quantize";
import { DomainError } from "../domain-error";
import { calibratedModel, layerBits, smoothingActivations, type RoundingMemo } from "../compress/pipeline";
import { quantizedInputHessians, quantizedInputRoundings, type MeasureFloat, type MeasureHessians } from "../compress/quantized-inputs";
import type { ChannelMaxima } from "../compress/smooth";
import { ChannelMeans, correctBiasesOnData, type BiasCorrectionReport, type MeasureMeans } from "../compress/bias-correction";
import { normalizeConstants } from "../onnx/constants";
import { calibrationOf, roundingOf, type Recipe } from "../compress/recipe";
import { decodeModel, encodeModel } from "../onnx/codec";
import { exposesConvIntoAdd, withExtraOutputs } from "../onnx/outputs";
import { BATCH, forEachBatch } from "../evaluate/runner";
import { nextTurn } from "../turns";
import { openSession } from "../serve/sessions";
import type { TenantStore } from "../store/tenant";
import type { ModelRecord } from "./records";
import { loadDataset } from "./datasets";
import { parseModelBytes } from "./models";
import type { ModelProto } from "onnx-buf";
import type { Dataset } from "../datasets/dataset";

export async function collectRanges(
  store: TenantStore,
  model: ModelRecord,
  original: Uint8Array,
  recipe: Recipe,
  maxima?: ChannelMaxima,
): Promise<ActivationRanges> {
  const calibration = calibrationOf(recipe.quantize!)!;
  const { dataset } = await loadDataset(store, calibration.dataset);
  const decoded = calibratedModel(parseModelBytes(original), recipe, maxima);
  const targets = calibrationTargets(decoded);
  const calibrators = new Map(targets.map((t) => [t, makeCalibrator(calibration.method, calibration.percentile)]));
  // Rows come one a call; a histogram takes its first range from the first batch, so each batch's values are observed
  // together, an activation at a time between turns (a batch of all of them is seconds on a big model).
  const batch = new Map<string, Float32Array[]>();
  const batchEnd = async () => {
    for (const [t, parts] of batch) {
      calibrators.get(t)!.observe(concatenated(parts));
      batch.delete(t);
      await nextTurn();
    }
  };
  await observeActivations(model, decoded, original.byteLength, dataset, calibration.samples, targets, (t, tensor) => {
    const parts = batch.get(t);
    if (parts) parts.push(tensor.data);
    else batch.set(t, [tensor.data]);
  }, batchEnd);
  const ranges: ActivationRanges = {};
  for (const [t, c] of calibrators) {
    ranges[t] = c.range();
    await nextTurn();
  }
  return ranges;
}

/**
 * For `smooth`: the largest |x| per channel of every activation SmoothQuant takes, on the recipe's calibration samples
 * (over the model pruned and equalized per the recipe, as smoothing will see it).
 */
export async function collectChannelMaxima(store: TenantStore, model: ModelRecord, original: Uint8Array, recipe: Recipe): Promise<ChannelMaxima> {
  const calibration = calibrationOf(recipe.quantize!)!;
  const { dataset } = await loadDataset(store, calibration.dataset);
  const decoded = calibratedModel(parseModelBytes(original), recipe);
  const maxima: ChannelMaxima = {};
  await observeActivations(model, decoded, original.byteLength, dataset, calibration.samples, smoothingActivations(decoded, recipe), (name, tensor) => {
    const k = tensor.dims[tensor.dims.length - 1] ?? 1;
    const m = (maxima[name] ??= new Float32Array(k));
    for (let i = 0; i < tensor.data.length; i++) {
      const j = i % k;
      const v = Math.abs(tensor.data[i]!);
      if (v > m[j]!) m[j] = v;
    }
  });
  return maxima;
}

/** The kernels' GEMM for the Hessians' row products where compression has the kernels (one per calibration run). */
function rowProducts(): RowProducts | undefined {
  const module = compressionKernelModule();
  return module ? new RowProducts(module) : undefined;
}

/** What the Hessians are for, as errors name it. */
function hessianUse(recipe: Recipe): string {
  const q = recipe.quantize;
  return q?.bits === undefined ? "calibrated pq" : `rounding '${roundingOf(q)?.method ?? "gptq"}'`;
}

/**
 * The Hessian of every MatMul/Gemm/Conv input (mean of x xᵀ over its rows or patches) on the recipe's calibration samples, run in
 * onnxruntime-web with those inputs exposed as outputs. For GPTQ and AdaRound, the layers of compensatedTargets (wide ones
 * as diagonal blocks; the others round to nearest, and the variant's tensors say which were compensated); Hessians past
 * MAX_HESSIAN_BYTES in all are refused (invalid_recipe).
 */
export async function collectHessians(
  store: TenantStore,
  model: ModelRecord,
  original: Uint8Array,
  recipe: Recipe,
  maxima?: ChannelMaxima,
  scope?: { bytes?: Uint8Array; layers: ReadonlySet<string> },
): Promise<LayerHessians> {
  const calibration = calibrationOf(recipe.quantize!)!;
  // `scope`: those layers alone, on other bytes where given (a model compression already made from the original), run as they are.
  const decoded = scope?.bytes ? parseModelBytes(scope.bytes) : calibratedModel(parseModelBytes(original), recipe, maxima);
  const targets = measuredTargets(decoded, recipe).filter((t) => !scope || scope.layers.has(t.layer));
  if (hessianBytes(targets) > MAX_HESSIAN_BYTES) {
    throw new DomainError("invalid_recipe", `${hessianUse(recipe)}: the model's layer inputs need ${hessianBytes(targets)} bytes of Hessians, more than ${MAX_HESSIAN_BYTES}`);
  }
  const { dataset } = await loadDataset(store, calibration.dataset);
  const products = rowProducts();
  const accumulators = targets.map((t) => ({ target: t, acc: new HessianAccumulator(t.features, t.groups, products, t.blocks) }));
  const activations = [...new Set(targets.map((t) => t.activation))];
  await observeActivations(model, decoded, (scope?.bytes ?? original).byteLength, dataset, calibration.samples, activations, (name, tensor) => {
    for (const { target, acc } of accumulators) {
      if (target.activation !== name) continue;
      if (target.window) acc.observeConv(tensor.data, tensor.dims, target.window);
      else acc.observe(tensor.data);
    }
  });
  return Object.fromEntries(accumulators.map(({ target, acc }) => [target.layer, { features: acc.features, groups: acc.groups, ...blocksOf(target), rows: acc.rows, matrix: acc.matrix() }]));
}

/** A blocked target's block count, as its statistics carry it. */
const blocksOf = (t: HessianTarget) => (t.blocks ? { blocks: t.blocks } : {});

/** The layers a recipe's Hessians are measured for: compensatedTargets for GPTQ and AdaRound (which factor each k x k Hessian or block of it); calibrated pq reads diagonal blocks of whole Hessians, so all. */
function measuredTargets(decoded: ModelProto, recipe: Recipe): HessianTarget[] {
  const rounding = recipe.quantize ? roundingOf(recipe.quantize) : undefined;
  return rounding ? compensatedTargets(decoded, rounding.blockInputs) : hessianTargets(decoded);
}

/**
 * GPTQ's and AdaRound's Hessians on float inputs, a part of the layers at a time (compress/calibrate/hessian.ts
 * hessianParts: at most MAX_HESSIAN_BYTES each), each part measured in its own calibration run and given to `use`
 * before the next is measured: a model whose Hessians in all are past the bound is rounded part by part, one
 * calibration run per part. A model with none gets one empty part.
 */
export async function forEachHessianPart(
  store: TenantStore,
  model: ModelRecord,
  original: Uint8Array,
  recipe: Recipe,
  maxima: ChannelMaxima | undefined,
  use: (hessians: LayerHessians, part: number, parts: number) => Promise<void>,
): Promise<void> {
  const targets = measuredTargets(calibratedModel(parseModelBytes(original), recipe, maxima), recipe);
  const parts = targets.length ? hessianParts(targets, MAX_HESSIAN_BYTES) : [[]];
  for (const [i, part] of parts.entries()) {
    const hessians = parts.length === 1 ? await collectHessians(store, model, original, recipe, maxima) : await collectHessians(store, model, original, recipe, maxima, { layers: new Set(part.map((t) => t.layer)) });
    await use(hessians, i, parts.length);
  }
}

/**
 * Calibrated PQ's Hessians, each layer's measured with the layers upstream of it quantized (compress/quantized-inputs.ts):
 * one calibration run of the float model, then one per further level.
 */
export async function collectQuantizedInputHessians(
  store: TenantStore,
  model: ModelRecord,
  original: Uint8Array,
  recipe: Recipe,
  onLevel?: (level: number, levels: number) => Promise<void>,
): Promise<LayerHessians> {
  const float = await collectHessians(store, model, original, recipe);
  const measure: MeasureHessians = (bytes, layers) => collectHessians(store, model, original, recipe, undefined, { bytes, layers });
  return quantizedInputHessians(parseModelBytes(original), recipe, float, measure, onLevel);
}

/**
 * GPTQ's or AdaRound's roundings on quantized inputs (`inputs: "quantized"`, compress/quantized-inputs.ts
 * quantizedInputRoundings): level by level, the model with the levels below compressed runs beside the float model to
 * measure each layer's Hessian and its cross statistics toward the float inputs, one calibration run per level. Static
 * recipes compress the levels below with `calibrated`'s ranges. The statistics are kept in float32 (a level's Hessians
 * and cross statistics together take the bytes of its float64 Hessians), one level's (or a part of one level's, within
 * MAX_HESSIAN_BYTES) at a time.
 */
export async function roundOnQuantizedInputs(
  store: TenantStore,
  model: ModelRecord,
  original: Uint8Array,
  recipe: Recipe,
  onLevel?: (level: number, levels: number) => Promise<void>,
  calibrated?: { ranges?: ActivationRanges; maxima?: ChannelMaxima },
): Promise<RoundingMemo> {
  const measureFloat: MeasureFloat = async (layers) => {
    const measured = await collectHessians(store, model, original, recipe, calibrated?.maxima, { layers });
    return Object.fromEntries(Object.entries(measured).map(([layer, h]) => [layer, { ...h, matrix: Float32Array.from(h.matrix) }]));
  };
  const measure: MeasureHessians = (bytes, layers) => collectPairedHessians(store, model, original, recipe, calibrated?.maxima, { bytes, layers });
  // Float32 statistics and cross statistics take the bytes of float64 Hessians: parts are bounded as float ones are.
  return quantizedInputRoundings(parseModelBytes(original), recipe, measureFloat, measure, onLevel, calibrated, MAX_HESSIAN_BYTES);
}

/**
 * The Hessians of `scope.layers`' inputs x̃ in `scope.bytes` (a model with the layers upstream compressed), each with
 * its cross statistics E[x̃ xᵀ] toward the float model's inputs x on the same calibration rows: both models run side by
 * side in onnxruntime-web. Layers compensatedTargets leaves out, and layers whose inputs do not match in shape between
 * the two, keep no statistics here.
 */
async function collectPairedHessians(
  store: TenantStore,
  model: ModelRecord,
  original: Uint8Array,
  recipe: Recipe,
  maxima: ChannelMaxima | undefined,
  scope: { bytes: Uint8Array; layers: ReadonlySet<string> },
): Promise<LayerHessians> {
  const calibration = calibrationOf(recipe.quantize!)!;
  const float = calibratedModel(parseModelBytes(original), recipe, maxima);
  const quantized = parseModelBytes(scope.bytes);
  const floatTargets = new Map(measuredTargets(float, recipe).map((t) => [t.layer, t]));
  // As collectHessians: layers compensated rounding does not take get no statistics (they round to nearest).
  const targets = measuredTargets(quantized, recipe).flatMap((t) => {
    const f = floatTargets.get(t.layer);
    const measured = scope.layers.has(t.layer);
    return measured && f && f.features === t.features && f.groups === t.groups && f.blocks === t.blocks ? [{ quantized: t, float: f }] : [];
  });
  const { dataset } = await loadDataset(store, calibration.dataset);
  const products = rowProducts();
  const accumulators = targets.map((t) => ({ ...t, acc: new HessianAccumulator(t.quantized.features, t.quantized.groups, products, t.quantized.blocks) }));
  const floatSession = await openExposed(model, float, targets.map((t) => t.float.activation), original.byteLength);
  try {
    const quantizedSession = await openExposed(model, quantized, targets.map((t) => t.quantized.activation), scope.bytes.byteLength);
    try {
      await forEachBatch([floatSession, quantizedSession], dataset, model.inputs, calibration.samples, (_start, [floatOut, quantizedOut], feeds) => {
        for (const { quantized: q, float: f, acc } of accumulators) {
          const x = exposedValue(f.activation, feeds, floatOut!);
          const xq = exposedValue(q.activation, feeds, quantizedOut!);
          if (!x || !xq) continue;
          if (q.window) acc.observeConv(xq.data, xq.dims, q.window, x.data);
          else acc.observe(xq.data, x.data);
        }
      }, { rows: BATCH });
    } finally {
      await quantizedSession.release();
    }
  } finally {
    await floatSession.release();
  }
  return Object.fromEntries(
    accumulators.map(({ quantized: t, acc }) => {
      const cross = acc.cross();
      return [t.layer, { features: acc.features, groups: acc.groups, ...blocksOf(t), rows: acc.rows, matrix: Float32Array.from(acc.matrix()), ...(cross ? { cross: Float32Array.from(cross) } : {}) }];
    }),
  );
}

/**
 * The variant with its biases corrected on the recipe's calibration samples (compress/bias-correction.ts): the
 * float model as calibration sees it and the variant both run in onnxruntime-web with the quantized layers' outputs
 * exposed, once for the float model and once per correction pass for the variant.
 */
export async function correctVariantBiases(
  store: TenantStore,
  model: ModelRecord,
  original: Uint8Array,
  recipe: Recipe,
  variant: Uint8Array,
): Promise<{ bytes: Uint8Array; report: BiasCorrectionReport }> {
  const calibration = calibrationOf(recipe.quantize!)!;
  const { dataset } = await loadDataset(store, calibration.dataset);
  const float = normalizeConstants(calibratedModel(parseModelBytes(original), recipe));
  const quantized = new Set([...layerBits(float, recipe.quantize!)].filter(([, bits]) => bits !== null).map(([layer]) => layer));
  const measure: MeasureMeans = async (decoded, targets) => {
    const sums = new Map(targets.map((t) => [t.output, { target: t, means: new ChannelMeans(t.channels) }]));
    await observeActivations(model, decoded, original.byteLength, dataset, calibration.samples, [...sums.keys()], (name, tensor) => {
      const s = sums.get(name);
      if (s) s.means.observe(tensor.data, tensor.dims, s.target.channelAxis);
    });
    return new Map([...sums].flatMap(([name, s]) => {
      const means = s.means.means();
      return means ? [[name, means] as const] : [];
    }));
  };
  const r = await correctBiasesOnData(float, decodeModel(variant), quantized, measure);
  return { bytes: r.report.corrected.length > 0 ? encodeModel(r.model) : variant, report: r.report };
}

/**
 * Runs `decoded` in onnxruntime-web over the first `samples` of the dataset with `names` exposed as outputs, a row a
 * call (evaluate/runner.ts), handing each row's float32 value of every name (a graph input's feed, or the exposed
 * output) to `observe`, and calling `batchEnd` after each batch of BATCH rows.
 */
async function observeActivations(
  model: ModelRecord,
  decoded: ModelProto,
  originalBytes: number,
  dataset: Dataset,
  samples: number,
  names: readonly string[],
  observe: (name: string, tensor: { data: Float32Array; dims: readonly number[] }) => void,
  batchEnd?: () => Promise<void>,
): Promise<void> {
  const session = await openExposed(model, decoded, names, originalBytes);
  try {
    await forEachBatch([session], dataset, model.inputs, samples, (_start, [out], feeds) => {
      for (const name of names) {
        const tensor = exposedValue(name, feeds, out!);
        if (tensor) observe(name, tensor);
      }
    }, { rows: BATCH, ...(batchEnd ? { batchEnd } : {}) });
  } finally {
    await session.release();
  }
}

/** Parts of a tensor's values, one after the other. */
function concatenated(parts: readonly Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A session of `decoded` with `names` (those not graph inputs) exposed as outputs. */
async function openExposed(model: ModelRecord, decoded: ModelProto, names: readonly string[], originalBytes: number) {
  const fromFeeds = new Set(model.inputs.map((i) => i.name));
  const exposed = [...new Set(names)].filter((t) => !fromFeeds.has(t));
  const bytes = encodeModel(withExtraOutputs(decoded, exposed));
  // Encoding a big model and creating its session are each a stretch of one thread: requests come between them.
  await nextTurn();
  return openSession(bytes, false, originalBytes, false, !exposesConvIntoAdd(decoded, exposed));
}

type Batch = Parameters<Parameters<typeof forEachBatch>[4]>;

/** A name's float32 value in a batch: a graph input's feed, or the exposed output. */
function exposedValue(name: string, feeds: Batch[2], out: NonNullable<Batch[1][number]>): { data: Float32Array; dims: readonly number[] } | undefined {
  const feed = feeds[name];
  const tensor = feed && feed.data instanceof Float32Array ? feed : out[name];
  return tensor?.data instanceof Float32Array ? { data: tensor.data, dims: tensor.dims } : undefined;
}
