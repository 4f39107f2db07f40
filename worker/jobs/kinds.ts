// What each job kind does: a function of (the tenant's store, request, progress) returning the job's result.
import { loadDataset } from "../catalog/datasets";
import { requireModel } from "../catalog/models";
import { evaluateStoredVariant, findVariant, makeVariant, type Progress } from "../catalog/variants";
import { compressesBounded, makeBoundedVariant, refuseUnbounded } from "../catalog/bounded-variants";
import type { Recipe } from "../compress/recipe";
import type { TenantStore } from "../store/tenant";
import { layerSensitivity, type SensitivityOptions } from "../tune/sensitivity";
import { searchVariant, type SearchRequest } from "../tune/search";

export interface VariantJob {
  modelId: string;
  recipe: Recipe;
  eval?: { dataset: string };
}
export interface EvaluateJob {
  modelId: string;
  variantId: string;
  dataset: string;
}
export interface SensitivityJob extends Omit<SensitivityOptions, "datasetId"> {
  modelId: string;
  dataset: string;
}
export interface SearchJob extends SearchRequest {
  modelId: string;
}

type Handler = (store: TenantStore, request: never, progress: Progress) => Promise<unknown>;

export const JOB_KINDS = {
  async variant(store: TenantStore, r: VariantJob, progress: Progress) {
    const model = await requireModel(store, r.modelId);
    if (compressesBounded(store, model)) {
      // The graph checks run in the compression, on the skeleton it reads anyway.
      refuseUnbounded(r.recipe, r.eval !== undefined);
      return (await findVariant(store, model, r.recipe)) ?? makeBoundedVariant(store, model, r.recipe, progress);
    }
    return (await makeVariant(store, model, r.recipe, r.eval?.dataset, progress)).variant;
  },
  async evaluate(store: TenantStore, r: EvaluateJob, progress: Progress) {
    const model = await requireModel(store, r.modelId);
    return evaluateStoredVariant(store, model, r.variantId, r.dataset, progress);
  },
  async sensitivity(store: TenantStore, r: SensitivityJob, progress: Progress) {
    const model = await requireModel(store, r.modelId);
    const { dataset } = await loadDataset(store, r.dataset);
    const original = await store.readModelBytes(model.id);
    return layerSensitivity(model, original, dataset, { datasetId: r.dataset, bits: r.bits, sparsities: r.sparsities, structure: r.structure, metric: r.metric, samples: r.samples }, progress);
  },
  async search(store: TenantStore, r: SearchJob, progress: Progress) {
    const model = await requireModel(store, r.modelId);
    const { dataset } = await loadDataset(store, r.dataset);
    const original = await store.readModelBytes(model.id);
    const { modelId: _m, ...request } = r;
    return searchVariant(store, model, original, dataset, request, progress);
  },
} satisfies Record<string, Handler>;

export type JobKind = keyof typeof JOB_KINDS;
