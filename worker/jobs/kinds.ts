// What each job kind does: a function of (env, tenant, request, progress) returning the job's result.
import { loadDataset } from "../catalog/datasets";
import { readBlob, requireModel } from "../catalog/models";
import { evaluateStoredVariant, makeVariant, type Progress } from "../catalog/variants";
import type { Recipe } from "../compress/recipe";
import type { Env } from "../env";
import { modelBlobKey } from "../store/keys";
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

type Handler = (env: Env, tenant: string, request: never, progress: Progress) => Promise<unknown>;

export const JOB_KINDS = {
  async variant(env: Env, tenant: string, r: VariantJob, progress: Progress) {
    const model = await requireModel(env, tenant, r.modelId);
    return (await makeVariant(env, tenant, model, r.recipe, r.eval?.dataset, progress)).variant;
  },
  async evaluate(env: Env, tenant: string, r: EvaluateJob, progress: Progress) {
    const model = await requireModel(env, tenant, r.modelId);
    return evaluateStoredVariant(env, tenant, model, r.variantId, r.dataset, progress);
  },
  async sensitivity(env: Env, tenant: string, r: SensitivityJob, progress: Progress) {
    const model = await requireModel(env, tenant, r.modelId);
    const { dataset } = await loadDataset(env, tenant, r.dataset);
    const original = await readBlob(env, modelBlobKey(tenant, model.id), "model");
    return layerSensitivity(model, original, dataset, { datasetId: r.dataset, bits: r.bits, sparsities: r.sparsities, structure: r.structure, metric: r.metric, samples: r.samples }, progress);
  },
  async search(env: Env, tenant: string, r: SearchJob, progress: Progress) {
    const model = await requireModel(env, tenant, r.modelId);
    const { dataset } = await loadDataset(env, tenant, r.dataset);
    const original = await readBlob(env, modelBlobKey(tenant, model.id), "model");
    const { modelId: _m, ...request } = r;
    return searchVariant(env, tenant, model, original, dataset, request, progress);
  },
} satisfies Record<string, Handler>;

export type JobKind = keyof typeof JOB_KINDS;
