// A least-recently-used cache budgeted by resident bytes: sessions are evicted (and released) to stay under budget.
// The entry a request just inserted or looked up is never evicted for it: a lone session above the budget stays until
// another one needs the room (older entries go first), so a model bigger than the budget is not reloaded per request.
import type { CheckedTensor } from "./inputs";
import type { RunOptions } from "./engine";

export interface Sized {
  /** Measured bytes the value holds now; read again whenever the cache touches the entry (it may grow). */
  readonly residentBytes: number;
  release(): void | Promise<void>;
}

export type EngineName = "kernels" | "onnxruntime-web";

/** An inference session as the cache holds it (sessions.ts makes them, on either engine). */
export interface LoadedSession extends Sized {
  /** Measured bytes the session holds (read again when the cache touches it: the kernel arena grows on first run). */
  readonly residentBytes: number;
  readonly engine: EngineName;
  /** With `profile`, the kernel engine appends each node's time to it, and keeps its arena within `arenaBudget`
   * (onnxruntime-web does neither). */
  run(inputs: Record<string, CheckedTensor>, options?: RunOptions): Promise<Record<string, { type: string; dims: readonly number[]; data: unknown }>>;
  /**
   * One more holder (a request about to run it). Sessions are reference counted: the one who made the session (or
   * the cache that keeps it) holds the first reference; each `retain` adds one and each `release` drops one; the
   * engine's memory is freed when none is left, so an eviction never frees a session a request still holds.
   * Throws when the session was already freed.
   */
  retain(): void;
  release(): Promise<void>;
}

/** A session load in flight: the requests waiting for it, each handed a reference when it lands. */
export interface PendingLoad {
  waiters: number;
  readonly session: Promise<LoadedSession>;
}

interface Entry<V> {
  value: V;
  /** The bytes counted for this entry in `used` (its residentBytes when last touched). */
  bytes: number;
}

export class ByteBudgetLru<V extends Sized> {
  private readonly entries = new Map<string, Entry<V>>();
  private used = 0;

  constructor(private budget: number) {}

  get size(): number {
    return this.entries.size;
  }

  get usedBytes(): number {
    return this.used;
  }

  /** A new budget evicts older entries to fit it, never the most recently used one. */
  setBudget(bytes: number): void {
    if (bytes === this.budget) return;
    this.budget = bytes;
    this.evict(this.mostRecentKey());
  }

  /** The value, marked most recently used; its size is measured again, and older entries make room if it grew. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    // Re-insert to mark it most recently used (Map keeps insertion order).
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.measure(entry);
    this.evict(key);
    return entry.value;
  }

  set(key: string, value: V): void {
    this.delete(key);
    const entry = { value, bytes: 0 };
    this.entries.set(key, entry);
    this.measure(entry);
    this.evict(key);
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.used -= entry.bytes;
    void entry.value.release();
  }

  /** Drops every entry whose key starts with the prefix (a deleted model's sessions). */
  deletePrefix(prefix: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.delete(key);
  }

  private measure(entry: Entry<V>): void {
    const bytes = entry.value.residentBytes;
    this.used += bytes - entry.bytes;
    entry.bytes = bytes;
  }

  private mostRecentKey(): string | undefined {
    let last: string | undefined;
    for (const key of this.entries.keys()) last = key;
    return last;
  }

  /** Evicts least recently used entries until under budget, never `keep` (the entry in use), even if alone over. */
  private evict(keep: string | undefined): void {
    for (const key of [...this.entries.keys()]) {
      if (this.used <= this.budget) break;
      if (key !== keep) this.delete(key);
    }
  }
}
