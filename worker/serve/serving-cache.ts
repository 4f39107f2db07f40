// Per-isolate memory of what serves a request (the model's record, the variant a ?variant= or ?bits= names), so
// that a warm inference reads no remote store. Entries live SERVING_TTL_MS: a change made in another isolate
// (a model deleted, a newer variant of some bit-width) is seen within that bound; this isolate's own deletes at once.
export const SERVING_TTL_MS = 5_000;
const MAX_ENTRIES = 2_000;

interface Entry<T> {
  value: T;
  at: number;
}

const entries = new Map<string, Entry<unknown>>();

/** The cached value under `key`, or `load()`'s (cached when it resolves; failures are not cached). */
export async function remembered<T>(key: string, load: () => Promise<T>): Promise<T> {
  const hit = entries.get(key);
  if (hit && Date.now() - hit.at < SERVING_TTL_MS) return hit.value as T;
  const value = await load();
  entries.delete(key);
  entries.set(key, { value, at: Date.now() });
  if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!);
  return value;
}

export const modelEntryKey = (tenant: string, modelId: string) => `${tenant}/${modelId}/record`;

export function forgetModel(tenant: string, modelId: string): void {
  const prefix = `${tenant}/${modelId}/`;
  for (const key of [...entries.keys()]) if (key.startsWith(prefix)) entries.delete(key);
}

/** Drops every entry (tests reset storage underneath the isolate). */
export function forgetAll(): void {
  entries.clear();
}
