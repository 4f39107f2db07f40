// A map whose entries are fresh for a fixed time and whose size is bounded: what an isolate remembers of remote
// stores (a model's record, the variant a request names, an experiment's config). Past the bound, the entry written
// longest ago goes; a stale entry stays readable (it may still say what it held) until replaced or dropped.

export interface TtlBounds {
  /** How long an entry is fresh, in ms from when it was written. */
  readonly ttlMs: number;
  /** The most entries kept; writing one more drops the one written longest ago. */
  readonly maxEntries: number;
}

interface Entry<V> {
  value: V;
  at: number;
}

export class TtlMap<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(readonly bounds: TtlBounds) {}

  get size(): number {
    return this.entries.size;
  }

  /** The value under `key` and whether it is younger than the TTL; undefined when there is none. */
  get(key: string): { value: V; fresh: boolean } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    return { value: entry.value, fresh: Date.now() - entry.at < this.bounds.ttlMs };
  }

  /** Writes `value`, fresh from now, as the newest entry. */
  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, at: Date.now() });
    if (this.entries.size > this.bounds.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Drops every entry whose key starts with the prefix (what a deleted model leaves). */
  deletePrefix(prefix: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
