// Magnitude pruning of a model: finds the prunable weights (per the operator table, worker/onnx/operators.ts), scores their units for the
// recipe's structure, picks what to remove (globally or per layer, with overrides and exclusions, no layer of the
// global pool past its cap) and writes the pruned weights back, dense with exact zeros; channel pruning then
// shrinks the graph (channels.ts). The report flags layers at their cap or whose output moved most.
import type { GraphProto, ModelProto, NodeProto, TensorProto } from "onnx-buf";
import { edited } from "../../onnx/edit";
import { DEFAULT_MAX_LAYER_SPARSITY, type PruneRecipe } from "../recipe";
import { DT } from "../../onnx/dtype";
import { isExternal, makeTensor, readFloat32, tensorDims } from "../../onnx/tensor";
import { prunableLayout, subgraphsOf, weightedLayers, type PruneStructure, type WeightLayout } from "../../onnx/operators";
import { selectLowest } from "./select";
import { applyBlockMask, applyChannelMask, applyNmMask, blockUnits, channelUnits, elementUnits, type Units } from "./units";
import { planChannels, removeChannels } from "./channels";
import { outputChange } from "./change";
import { DomainError } from "../../domain-error";

/** A layer whose output moves by more than this (relative L2 on the probes) is flagged in the report. */
export const OUTPUT_CHANGE_WARNING = 0.5;

export class PruneRecipeError extends DomainError {
  override name = "PruneRecipeError";
  constructor(message: string) {
    super("invalid_recipe", message);
  }
}

export interface PruneLayerReport {
  /** The weight initializer. */
  name: string;
  node: string;
  op: string;
  shape: number[];
  structure: string;
  /** Requested sparsity of this layer's units: its override, the recipe's, or 1 - n/m. */
  target: number;
  /** Exact zeros over elements in the pruned weight (for `channel`, in the masked weight before removal). */
  sparsity: number;
  zeros: number;
  elements: number;
  /** The layer's sparsity cap (global pool), or the level past which an explicit sparsity is flagged. */
  maxSparsity: number;
  /** The global threshold would have removed more than `maxSparsity`: the layer kept its largest weights instead. */
  capped: boolean;
  /** ||(W' - W) x|| / ||W x|| on seeded probe inputs x (change.ts). */
  outputChange: number;
  /** Channel pruning: output channels kept, and the weight's shape after the rewrite. */
  channels?: { before: number; after: number; removed: number[] };
  newShape?: number[];
}

export interface PruneSkip {
  name: string;
  node: string;
  reason: string;
}

export interface PruneResult {
  model: ModelProto;
  layers: PruneLayerReport[];
  skipped: PruneSkip[];
  /** Zeros over elements across every pruned weight. */
  sparsity: number;
  /** Layers at or above their cap, layers whose output moved most, a global target the caps left unmet. */
  warnings: string[];
}

/** A prunable weight and the node(s) reading it. */
interface Layer {
  weight: TensorProto;
  node: NodeProto;
  label: string;
  layout: WeightLayout;
  dims: number[];
  data: Float32Array;
  target: number;
  pooled: boolean;
  maxSparsity: number;
  original: Float32Array;
}

function structureLabel(s: PruneRecipe["structure"]): string {
  if (typeof s === "string") return s;
  if ("n" in s) return `${s.n}:${s.m}`;
  return `block ${s.block[0]}x${s.block[1]}`;
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;
const percent = (x: number) => `${Math.round(x * 1000) / 10}%`;

function structureKind(s: PruneRecipe["structure"]): PruneStructure {
  if (typeof s === "string") return s;
  return "n" in s ? "n:m" : "block";
}

function countZeros(w: Float32Array): number {
  let z = 0;
  for (const v of w) if (v === 0) z++;
  return z;
}

/** Node and initializer names of a graph and its bodies (If/Loop/Scan). */
function namesDeep(graph: GraphProto, names = new Set<string>()): Set<string> {
  for (const t of graph.initializer) names.add(t.name);
  for (const n of graph.node) {
    names.add(n.name);
    for (const g of subgraphsOf(n)) namesDeep(g, names);
  }
  return names;
}

/** How many node inputs read each name, bodies included (a body reads outer names too). */
export function readCounts(graph: GraphProto, readers = new Map<string, number>()): Map<string, number> {
  for (const n of graph.node) {
    for (const i of n.input) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
    for (const g of subgraphsOf(n)) readCounts(g, readers);
  }
  return readers;
}

/** The graph with the initializers of `replaced` swapped in, wherever (main graph or body) each lives. */
function withInitializers(graph: GraphProto, replaced: ReadonlyMap<string, TensorProto>): GraphProto {
  const node = graph.node.map((n) => {
    if (subgraphsOf(n).length === 0) return n;
    const attribute = n.attribute.map((a) => {
      if (a.g) return edited(a, { g: withInitializers(a.g, replaced) });
      if (a.graphs.length > 0) return edited(a, { graphs: a.graphs.map((g) => withInitializers(g, replaced)) });
      return a;
    });
    return edited(n, { attribute });
  });
  return { ...graph, node, initializer: graph.initializer.map((t) => replaced.get(t.name) ?? t) };
}

/** Every name the recipe mentions must exist: a typo would otherwise silently prune the wrong thing. */
export function checkPruneNames(model: ModelProto, recipe: PruneRecipe): void {
  const known = namesDeep(model.graph!);
  for (const name of [...recipe.exclude, ...Object.keys(recipe.overrides), ...Object.keys(recipe.maxLayerSparsityOverrides ?? {})]) {
    if (!known.has(name)) throw new PruneRecipeError(`prune names '${name}', which is neither a node nor an initializer of this model`);
  }
}

export function pruneModel(model: ModelProto, recipe: PruneRecipe): PruneResult {
  const graph = model.graph!;
  const readers = readCounts(graph);
  checkPruneNames(model, recipe);
  const capOverrides = recipe.maxLayerSparsityOverrides ?? {};
  const named = (layer: { weight: TensorProto; node: NodeProto }, names: Iterable<string>) => {
    for (const n of names) if (n === layer.weight.name || (layer.node.name !== "" && n === layer.node.name)) return n;
    return undefined;
  };

  const structure = recipe.structure;
  const nm = typeof structure === "object" && "n" in structure ? structure : null;
  const skipped: PruneSkip[] = [];
  const layers: Layer[] = [];
  const seen = new Set<string>();
  // Every weight slot the operator table finds, in bodies (If/Loop/Scan) too, LSTM/GRU/RNN's R as well as W.
  for (const found of weightedLayers(graph)) {
    if (seen.has(found.weight.name)) continue;
    const { weight, label, operator, node } = found;
    seen.add(weight.name);
    const dims = tensorDims(weight);
    const layout = prunableLayout(found, dims);
    const skip = (reason: string) => skipped.push({ name: weight.name, node: label, reason });
    if (named({ weight, node }, recipe.exclude)) skip("excluded by the recipe");
    else if (weight.dataType !== DT.FLOAT) skip("weight is not float32");
    else if (isExternal(weight)) skip("weight uses external data");
    else if (!layout) skip(`weight shape [${dims}] has no output-channel axis for ${node.opType}`);
    else if (!operator.prune.structures.includes(structureKind(structure))) skip(`${node.opType} weights are not pruned by structure ${structureLabel(structure)}`);
    else if ((readers.get(weight.name) ?? 0) > 1) skip("weight is shared by several nodes");
    else if (found.nested && structure === "channel") skip("inside an If/Loop/Scan body: channel pruning rewrites the main graph only");
    else if (nm && dims[layout.inAxis]! < nm.m) skip(`input axis has ${dims[layout.inAxis]} weights, fewer than m=${nm.m}`);
    else {
      const override = named({ weight, node }, Object.keys(recipe.overrides));
      const target = nm ? 1 - nm.n / nm.m : override !== undefined ? recipe.overrides[override]! : recipe.sparsity!;
      const capName = named({ weight, node }, Object.keys(capOverrides));
      const maxSparsity = capName !== undefined ? capOverrides[capName]! : (recipe.maxLayerSparsity ?? DEFAULT_MAX_LAYER_SPARSITY);
      const data = readFloat32(weight);
      layers.push({ weight, node, label, layout, dims, data, target, pooled: override === undefined, maxSparsity, original: data.slice() });
    }
  }

  let channelPlan: ReturnType<typeof planChannels> | null = null;
  let eligible = layers;
  if (structure === "channel") {
    channelPlan = planChannels(model);
    eligible = layers.filter((l) => {
      const plan = channelPlan!.get(l.weight.name);
      if (plan && "reason" in plan) skipped.push({ name: l.weight.name, node: l.label, reason: plan.reason });
      return plan !== undefined && !("reason" in plan);
    });
  }

  const removedChannels = new Map<string, number[]>();
  const warnings: string[] = [];
  const capped = new Set<Layer>();
  if (nm) {
    for (const l of eligible) applyNmMask(l.data, l.dims, l.layout.inAxis, nm.n, nm.m);
  } else {
    const units: Units[] = eligible.map((l) =>
      structure === "unstructured"
        ? elementUnits(l.data)
        : structure === "channel"
          ? channelUnits(l.data, l.dims, l.layout, recipe.norm)
          : blockUnits(l.data, l.dims, (structure as { block: [number, number] }).block, recipe.norm),
    );
    const total = (u: Units) => (u.sizes ? u.sizes.reduce((a, b) => a + b, 0) : u.scores.length);
    const taken = (u: Units, r: Uint8Array) => r.reduce((s, x, k) => s + (x ? (u.sizes ? u.sizes[k]! : 1) : 0), 0);
    const removed: Uint8Array[] = new Array(eligible.length);
    const pooled = eligible.flatMap((l, i) => (l.pooled && recipe.scope === "global" ? [i] : []));
    if (pooled.length > 0) {
      const pooledTotal = pooled.reduce((s, i) => s + total(units[i]!), 0);
      const target = Math.round(recipe.sparsity! * pooledTotal);
      // The most each layer may lose; the epsilon keeps 0.29 x 100 at 29 (the double is 28.999...).
      const allowance = (i: number) => Math.floor(eligible[i]!.maxSparsity * total(units[i]!) + 1e-9);
      // One global threshold; a layer it would take past its cap keeps its largest units up to the cap instead,
      // and the threshold is recomputed over the rest for what is left of the target. Without a cap that binds
      // the first pass stands, exactly as before caps existed.
      let pool = pooled;
      let left = target;
      while (pool.length > 0) {
        const picked = selectLowest(pool.map((i) => units[i]!), left);
        const over = pool.filter((i, k) => taken(units[i]!, picked[k]!) > allowance(i));
        if (over.length === 0) {
          picked.forEach((r, k) => (removed[pool[k]!] = r));
          break;
        }
        for (const i of over) {
          const l = eligible[i]!;
          const wanted = taken(units[i]!, picked[pool.indexOf(i)]!) / total(units[i]!);
          capped.add(l);
          removed[i] = selectLowest([units[i]!], allowance(i), true)[0]!;
          left -= taken(units[i]!, removed[i]!);
          warnings.push(
            `${l.weight.name} (${l.label}): capped at sparsity ${l.maxSparsity}; the global threshold would have removed ${percent(wanted)} of it`,
          );
        }
        pool = pool.filter((i) => !capped.has(eligible[i]!));
      }
      const done = pooled.reduce((s, i) => s + taken(units[i]!, removed[i]!), 0);
      if (pool.length === 0 && done < target) {
        warnings.push(
          `global sparsity ${recipe.sparsity} not met: every layer of the global pool is at its cap, which leaves ${round(done / pooledTotal)}`,
        );
      }
    }
    eligible.forEach((l, i) => {
      if (removed[i]) return;
      removed[i] = selectLowest([units[i]!], Math.round(l.target * total(units[i]!)))[0]!;
    });
    eligible.forEach((l, i) => {
      const r = removed[i]!;
      if (structure === "unstructured") {
        for (let k = 0; k < r.length; k++) if (r[k]) l.data[k] = 0;
      } else if (structure === "channel") {
        // A layer keeps at least one channel: an empty tensor would break the graph.
        if (r.every((x) => x === 1)) r[r.length - 1] = 0;
        applyChannelMask(l.data, l.dims, l.layout.outAxis, r);
        removedChannels.set(l.weight.name, [...r.keys()].filter((k) => r[k]));
      } else {
        applyBlockMask(l.data, l.dims, (structure as { block: [number, number] }).block, r);
      }
    });
  }

  const reports: PruneLayerReport[] = eligible.map((l) => {
    const zeros = countZeros(l.data);
    const sparsity = zeros / l.data.length;
    const change = outputChange(l.original, l.data, l.dims, l.layout.outAxis);
    if (!capped.has(l) && sparsity >= l.maxSparsity) {
      const explicit = !l.pooled || recipe.scope === "per-layer" || nm !== null;
      warnings.push(
        `${l.weight.name} (${l.label}): sparsity ${round(sparsity)} is at or above the cap ${l.maxSparsity}${explicit ? " (set explicitly, not capped)" : ""}`,
      );
    }
    if (change > OUTPUT_CHANGE_WARNING) {
      warnings.push(`${l.weight.name} (${l.label}): output changed by ${round(change)} (relative L2 on probe inputs)`);
    }
    return {
      name: l.weight.name,
      node: l.label,
      op: l.node.opType,
      shape: l.dims,
      structure: structureLabel(structure),
      target: l.target,
      sparsity,
      zeros,
      elements: l.data.length,
      maxSparsity: l.maxSparsity,
      capped: capped.has(l),
      outputChange: change,
    };
  });
  const pruned = new Map(eligible.map((l) => [l.weight.name, makeTensor(l.weight.name, DT.FLOAT, l.dims, l.data)]));
  let out: ModelProto = { ...model, graph: withInitializers(graph, pruned) };
  if (channelPlan) {
    const rewritten = removeChannels(out, removedChannels);
    out = rewritten.model;
    for (const r of reports) {
      const removed = removedChannels.get(r.name) ?? [];
      const before = r.shape[eligible.find((l) => l.weight.name === r.name)!.layout.outAxis]!;
      r.channels = { before, after: before - removed.length, removed };
      r.newShape = rewritten.shapes.get(r.name) ?? r.shape;
    }
  }
  const zeros = reports.reduce((s, r) => s + r.zeros, 0);
  const elements = reports.reduce((s, r) => s + r.elements, 0);
  return { model: out, layers: reports, skipped, sparsity: elements > 0 ? zeros / elements : 0, warnings };
}
