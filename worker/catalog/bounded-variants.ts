// Variants of models too big to hold (over MAX_WHOLE_MODEL_BYTES, store/tenant.ts): compressed one weight at a time from ranged reads
// of the model's object (compress/bounded.ts), the encoded weights spilled to R2 as they are made, then the variant
// written through an R2 multipart upload (invisible until complete) from the original and the spills, and checked
// by reading its structure back. A variant within the bound on what the Worker serves is serve-checked (on the kernel
// engine alone where it covers the graph, loaded by range) and served as any other; a bigger one is stored to
// download, its record saying why the Worker does not serve it.
import { boundedRecipeProblem, BoundedRecipeError, compressBounded } from "../compress/bounded";
import { checkRecipe } from "../compress/pipeline";
import { variantRecipe, recipeBits, type Recipe } from "../compress/recipe";
import { decodeModel } from "../onnx/codec";
import { readSkeleton, SKELETON_LOCATION } from "../onnx/skeleton";
import { summarizeModel, validateModel } from "../onnx/validate";
import { checkServesByRange, checkServesOnKernels } from "../serve/serve-check";
import type { TenantStore } from "../store/tenant";
import { DomainError } from "../domain-error";
import { requireRoom } from "./quotas";
import type { ModelRecord, VariantRecord } from "./records";
import { writeStaged } from "./uploads";
import { commitRecord, variantId, type Progress } from "./variants";

/** Whether a model is compressed one weight at a time: it is too big to read whole. */
export const compressesBounded = (store: TenantStore, model: ModelRecord) => model.bytes > store.wholeModelBytes;

/**
 * What a request checks before queueing the job, from the model's structure alone (read by range): the recipe runs
 * one weight at a time, applies to the graph (names, ops, opset), and asks for no evaluation (which runs the model
 * whole). Throws BoundedRecipeError (413) or what checkRecipe throws.
 */
export async function requireBoundedApplicable(store: TenantStore, model: ModelRecord, recipe: Recipe, evaluate: boolean): Promise<void> {
  refuseUnbounded(recipe, evaluate);
  checkRecipe(decodeModel((await readSkeleton(await store.modelSource(model.id))).bytes), recipe);
}

/** Throws BoundedRecipeError for a recipe (or an evaluation) that cannot run one weight at a time (no I/O). */
export function refuseUnbounded(recipe: Recipe, evaluate: boolean): void {
  const problem = boundedRecipeProblem(recipe) ?? (evaluate ? "eval runs the model and the variant whole" : null);
  if (problem) throw new BoundedRecipeError(problem);
}

/**
 * Makes a variant of a model too big to hold (see the header) and stores it with its record. Throws what
 * compressBounded throws (413 for a recipe that needs the whole model), quota_exceeded, and variant_failed for a
 * variant that does not read back as a valid model with the original's signature (nothing is then kept). The recipe
 * is checked against the graph by compressBounded, on the skeleton read here once.
 */
export async function makeBoundedVariant(store: TenantStore, model: ModelRecord, recipe: Recipe, progress: Progress): Promise<VariantRecord> {
  await requireRoom(store, { variantOf: model.id }, "delete the model's variants with the model, or use another model");
  const addressed = variantRecipe(recipe, false);
  const id = await variantId(model.sha256, addressed);
  const original = await store.modelSource(model.id);
  await progress("reading the model's structure", 0.05);
  const skeleton = decodeModel((await readSkeleton(original)).bytes);
  const spills = new Map<string, number>();
  try {
    const result = await compressBounded(
      skeleton,
      recipe,
      {
        original,
        spill: async (bytes) => {
          const name = String(spills.size);
          await store.putSpill(model.id, id, name, bytes);
          spills.set(name, bytes.byteLength);
          return name;
        },
        progress: (done, total) => progress(`quantizing (${done} weights done)`, 0.1 + (0.6 * Math.min(done, total)) / Math.max(total, 1)),
      },
      model.bytes,
    );
    await requireRoom(store, { variantOf: model.id, bytes: result.encoded.size }, "delete a model first");
    await progress("writing", 0.75);
    // Written in parts to the variant's key: nothing is visible until the upload completes.
    const sha256 = await writeStaged(await store.createVariantUpload(model.id, id), result.encoded, (location) => {
      if (location === SKELETON_LOCATION) return original;
      const size = spills.get(location);
      return size === undefined ? undefined : store.spillSource(model.id, id, location, size);
    });
    await progress("checking", 0.9);
    const record: VariantRecord = {
      id,
      modelId: model.id,
      sha256,
      recipe: addressed,
      bits: recipeBits(recipe),
      bytes: result.encoded.size,
      compressionRatio: model.bytes / result.encoded.size,
      engine: "onnxruntime-web",
      residentBytes: 0,
      tensors: result.tensors,
      skipped: result.skipped,
      createdAt: new Date().toISOString(),
    };
    try {
      await checkStored(store, model, record);
    } catch (err) {
      await store.deleteVariantBytes(model.id, id);
      throw err;
    }
    await commitRecord(store, record, true);
    return record;
  } finally {
    await store.deleteSpills(model.id, id);
  }
}

/**
 * Reads the stored variant back: its structure validates and keeps the model's signature. One within the bound that the
 * kernel engine covers must serve there (the serve check), and its record gets the engine and resident bytes; a bigger
 * one, or one only onnxruntime-web runs, is recorded as not served, with the reason.
 */
async function checkStored(store: TenantStore, model: ModelRecord, record: VariantRecord): Promise<void> {
  const source = await store.variantSource(model.id, record.id);
  if (source.size !== record.bytes) throw new DomainError("variant_failed", `the variant was written as ${source.size} bytes, expected ${record.bytes}`);
  const skeleton = decodeModel((await readSkeleton(source)).bytes);
  try {
    validateModel(skeleton, { skeletonOf: source.size });
  } catch (err) {
    throw new DomainError("variant_failed", `the variant does not read back as a valid model: ${(err as Error).message}`, { cause: err });
  }
  const summary = summarizeModel(skeleton);
  const names = (s: { name: string; type: string }[]) => s.map((t) => `${t.name}:${t.type}`).join(",");
  if (names(summary.inputs) !== names(model.inputs) || names(summary.outputs) !== names(model.outputs)) {
    throw new DomainError("variant_failed", "the variant does not keep the model's inputs and outputs");
  }
  if (record.bytes > store.wholeModelBytes) {
    record.notServed = `the variant is ${record.bytes} bytes; the Worker serves models and variants of at most ${store.wholeModelBytes} bytes (MAX_WHOLE_MODEL_BYTES): download it, or make a narrower one`;
    return;
  }
  // Where the kernel engine covers the graph it alone is checked (it is what serves), loaded by range as serving loads
  // it: onnxruntime-web's heap for a variant of tens of MB is several times its size.
  const check = (await checkServesByRange(skeleton, source, model.inputs)) ?? (await checkServesOnKernels(await store.readVariantBytes(model.id, record.id), model.inputs));
  if (!check?.kernels) {
    // onnxruntime-web holds a weight-only variant's weights as float once loaded: about the FP32 model, which is over
    // the bound (this model compresses here for being so), so the variant serves no better than its model does.
    record.notServed = `the kernel engine does not cover this graph, and onnxruntime-web holds the variant's weights as float, about the FP32 model's ${model.bytes} bytes: over the ${store.wholeModelBytes} bytes the Worker serves (MAX_WHOLE_MODEL_BYTES); download it, or make a variant of a graph the kernel engine covers`;
    return;
  }
  // The checked session's figures; planning a second session would hold the weights twice.
  record.engine = "kernels";
  record.residentBytes = check.kernels.residentBytes;
  record.weightBytes = check.kernels.weightBytes;
}
