// Magnitude pruning of a model: finds the prunable weights (per the operator table, worker/onnx/operators.ts), scores their units for the
// recipe's structure, picks what to remove (globally or per layer, with overrides and exclusions) and writes the
// pruned weights back, dense with exact zeros; channel pruning then shrinks the graph (channels.ts).
import type { ModelProto, NodeProto, TensorProto } from "onnx-buf";
import type { PruneRecipe } from "../recipe";
import { DT } from "../../onnx/dtype";
import { isExternal, makeTensor, readFloat32, tensorDims } from "../../onnx/tensor";
import { prunableLayout, weightedLayer, type PruneStructure, type WeightLayout } from "../../onnx/operators";
import { selectLowest } from "./select";
import { applyBlockMask, applyChannelMask, applyNmMask, blockUnits, channelUnits, elementUnits, type Units } from "./units";
import { planChannels, removeChannels } from "./channels";

export class PruneRecipeError extends Error {
  override name = "PruneRecipeError";
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
}

function structureLabel(s: PruneRecipe["structure"]): string {
  if (typeof s === "string") return s;
  if ("n" in s) return `${s.n}:${s.m}`;
  return `block ${s.block[0]}x${s.block[1]}`;
}

function structureKind(s: PruneRecipe["structure"]): PruneStructure {
  if (typeof s === "string") return s;
  return "n" in s ? "n:m" : "block";
}

function countZeros(w: Float32Array): number {
  let z = 0;
  for (const v of w) if (v === 0) z++;
  return z;
}

export function pruneModel(model: ModelProto, recipe: PruneRecipe): PruneResult {
  const graph = model.graph!;
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const readers = new Map<string, number>();
  for (const n of graph.node) for (const i of n.input) readers.set(i, (readers.get(i) ?? 0) + 1);

  // Every name the recipe mentions must exist: a typo would otherwise silently prune the wrong thing.
  const known = new Set<string>([...graph.node.map((n) => n.name), ...initializers.keys()]);
  for (const name of [...recipe.exclude, ...Object.keys(recipe.overrides)]) {
    if (!known.has(name)) throw new PruneRecipeError(`prune names '${name}', which is neither a node nor an initializer of this model`);
  }
  const named = (layer: { weight: TensorProto; node: NodeProto }, names: Iterable<string>) => {
    for (const n of names) if (n === layer.weight.name || (layer.node.name !== "" && n === layer.node.name)) return n;
    return undefined;
  };

  const structure = recipe.structure;
  const nm = typeof structure === "object" && "n" in structure ? structure : null;
  const skipped: PruneSkip[] = [];
  const layers: Layer[] = [];
  const seen = new Set<string>();
  for (const node of graph.node) {
    const found = weightedLayer(node, initializers);
    if (!found || seen.has(found.weight.name)) continue;
    const { weight, label, operator } = found;
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
    else if (nm && dims[layout.inAxis]! < nm.m) skip(`input axis has ${dims[layout.inAxis]} weights, fewer than m=${nm.m}`);
    else {
      const override = named({ weight, node }, Object.keys(recipe.overrides));
      const target = nm ? 1 - nm.n / nm.m : override !== undefined ? recipe.overrides[override]! : recipe.sparsity!;
      layers.push({ weight, node, label, layout, dims, data: readFloat32(weight), target, pooled: override === undefined });
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
    const removed: Uint8Array[] = new Array(eligible.length);
    const pooled = eligible.flatMap((l, i) => (l.pooled && recipe.scope === "global" ? [i] : []));
    if (pooled.length > 0) {
      const target = Math.round(recipe.sparsity! * pooled.reduce((s, i) => s + total(units[i]!), 0));
      selectLowest(pooled.map((i) => units[i]!), target).forEach((r, k) => (removed[pooled[k]!] = r));
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
    return {
      name: l.weight.name,
      node: l.label,
      op: l.node.opType,
      shape: l.dims,
      structure: structureLabel(structure),
      target: l.target,
      sparsity: zeros / l.data.length,
      zeros,
      elements: l.data.length,
    };
  });
  const pruned = new Map(eligible.map((l) => [l.weight.name, makeTensor(l.weight.name, DT.FLOAT, l.dims, l.data)]));
  let out: ModelProto = {
    ...model,
    graph: { ...graph, initializer: graph.initializer.map((t) => pruned.get(t.name) ?? t) },
  };
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
  return { model: out, layers: reports, skipped, sparsity: elements > 0 ? zeros / elements : 0 };
}
