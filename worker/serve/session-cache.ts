// A least-recently-used cache budgeted by resident bytes: sessions are evicted (and released) to stay under budget.
export interface Sized {
  readonly residentBytes: number;
  release(): void | Promise<void>;
}

export class ByteBudgetLru<V extends Sized> {
  private readonly entries = new Map<string, V>();
  private used = 0;

  constructor(private budget: number) {}

  get size(): number {
    return this.entries.size;
  }

  get usedBytes(): number {
    return this.used;
  }

  setBudget(bytes: number): void {
    this.budget = bytes;
    this.evict();
  }

  get(key: string): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      // Re-insert to mark it most recently used (Map keeps insertion order).
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  set(key: string, value: V): void {
    this.delete(key);
    this.entries.set(key, value);
    this.used += value.residentBytes;
    this.evict(key);
  }

  delete(key: string): void {
    const v = this.entries.get(key);
    if (v === undefined) return;
    this.entries.delete(key);
    this.used -= v.residentBytes;
    void v.release();
  }

  /** Drops every entry whose key starts with the prefix (a deleted model's sessions). */
  deletePrefix(prefix: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.delete(key);
  }

  /** Evicts least recently used entries until under budget; the entry just added stays even if alone over. */
  private evict(keep?: string): void {
    for (const key of this.entries.keys()) {
      if (this.used <= this.budget) break;
      if (key === keep) continue;
      this.delete(key);
    }
  }
}
