// Per-isolate memory of what serves a request (the model's record, the variant a ?variant= or ?bits= names), so
// that a warm inference reads no remote store: worker/isolate.ts's `servingRecords`. Entries are fresh for 5 s: a
// change made in another isolate (a model deleted, a newer variant of some bit-width) is seen within that bound;
// this isolate's own deletes at once.
import { isolate } from "../isolate";

/** The cached value under `key`, or `load()`'s (cached when it resolves; failures are not cached). */
export async function remembered<T>(key: string, load: () => Promise<T>): Promise<T> {
  const hit = isolate.servingRecords.get(key);
  if (hit?.fresh) return hit.value as T;
  const value = await load();
  isolate.servingRecords.set(key, value);
  return value;
}

export const modelEntryKey = (tenant: string, modelId: string) => `${tenant}/${modelId}/record`;

export function forgetModel(tenant: string, modelId: string): void {
  isolate.servingRecords.deletePrefix(`${tenant}/${modelId}/`);
}

/** Drops every entry (tests reset storage underneath the isolate). */
export function forgetAll(): void {
  isolate.servingRecords.clear();
}
