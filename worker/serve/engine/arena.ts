// The activation arena of one run, planned from lifetimes so that tensors whose lifetimes do not overlap share memory.
// A trace (at plan time, once per input shape) places each allocation at the lowest free offset (first fit in
// schedule order) and frees it when its lifetime ends: a kernel's scratch at its own reset or when its step ends, a
// value after the last node that reads it and after every view of it (graph outputs never). The trace's events
// (allocations and frees, in order) and the offsets it chose are the plan. A run replays the plan while its events
// match the trace's; from the first that does not (a size that follows the data rather than the input shapes) it
// places its allocations above the plan's peak, where nothing planned lies.
import { LimitError, MAX_RUN_ARENA_BYTES } from "../../onnx/limits";
import type { Allocator, KernelInstance, Ptr } from "../wasm/runtime";

const ALIGN = 16;

/** An arena's plan for one set of input shapes. */
export interface ArenaPlan {
  /** The traced run's events in order: an allocation's size in bytes (>= 16), or -(id + 1) for the free of allocation `id`. */
  readonly events: Int32Array;
  /** Each allocation's offset from the arena's start, by id (allocation order). */
  readonly offsets: Int32Array;
  /** Bytes from the arena's start to the end of its highest allocation. */
  readonly peak: number;
}

/** A live allocation. */
export interface Block {
  readonly id: number;
  readonly offset: number;
  readonly size: number;
  /** Values holding this memory (a value and its views): the block is freed when the last lets go. */
  holders: number;
}

export class Arena implements Allocator {
  /** Where the arena starts in the instance's memory. */
  readonly base: Ptr;
  /** Live blocks by offset (disjoint). */
  private readonly live: Block[] = [];
  private readonly events: number[] = [];
  private readonly offsets: number[] = [];
  private count = 0;
  /** Replay: the next event of the plan, and whether this run's events have parted from it. */
  private cursor = 0;
  private diverged = false;
  /** Replay, once diverged: where the next allocation goes. */
  private top: number;
  private high = 0;

  constructor(
    private readonly kx: KernelInstance,
    private readonly plan: ArenaPlan | null,
    /** Bytes this run may use: MAX_RUN_ARENA_BYTES, or less where the request already holds memory (runArenaBudget). */
    private readonly budget = MAX_RUN_ARENA_BYTES,
  ) {
    this.base = kx.mark();
    this.top = plan?.peak ?? 0;
    if (plan) this.reserve(plan.peak);
  }

  /** Bytes from the arena's start to the end of the highest allocation so far. */
  get peak(): number {
    return this.high;
  }

  /** Whether this run left its plan (its events parted from the traced run's). */
  get offPlan(): boolean {
    return this.diverged;
  }

  alloc(bytes: number): Ptr {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN); // never empty: each block owns its first byte
    const id = this.count++;
    let offset: number;
    if (!this.plan) {
      offset = this.firstFit(size);
      this.events.push(size);
      this.offsets.push(offset);
    } else if (!this.diverged && this.plan.events[this.cursor] === size) {
      offset = this.plan.offsets[id]!;
      this.cursor++;
    } else {
      this.diverged = true;
      offset = this.top;
      this.top += size;
    }
    this.reserve(offset + size);
    const block: Block = { id, offset, size, holders: 0 };
    this.live.splice(this.indexAfter(offset), 0, block);
    return this.base + offset;
  }

  /** The number of allocations so far: `reset` to it frees the scratch allocated since. */
  mark(): number {
    return this.count;
  }

  /** Frees every block allocated since `mark` that no value holds (a kernel's scratch, a step's). */
  reset(mark: number): void {
    const scratch = this.live.filter((b) => b.id >= mark && b.holders === 0).sort((a, b) => a.id - b.id);
    for (const b of scratch) this.free(b);
  }

  /** A value takes hold of the live block its pointer lies in (its own, or the one it views); undefined outside the arena. */
  hold(ptr: Ptr): Block | undefined {
    const at = ptr - this.base;
    const b = this.live.find((x) => at >= x.offset && at < x.offset + x.size);
    if (b) b.holders++;
    return b;
  }

  /** A value lets go of its block, which is freed when no value holds it. */
  release(b: Block): void {
    if (--b.holders === 0) this.free(b);
  }

  /** The plan this (traced) run makes: its events and offsets, and its peak. */
  toPlan(): ArenaPlan {
    return { events: Int32Array.from(this.events), offsets: Int32Array.from(this.offsets), peak: this.high };
  }

  private free(b: Block): void {
    this.live.splice(this.live.indexOf(b), 1);
    const event = -(b.id + 1);
    if (!this.plan) this.events.push(event);
    else if (!this.diverged && this.plan.events[this.cursor] === event) this.cursor++;
    else this.diverged = true;
  }

  /** The lowest offset with `size` bytes free between the live blocks. */
  private firstFit(size: number): number {
    let at = 0;
    for (const b of this.live) {
      if (b.offset - at >= size) break;
      at = Math.max(at, b.offset + b.size);
    }
    return at;
  }

  private indexAfter(offset: number): number {
    let i = this.live.length;
    while (i > 0 && this.live[i - 1]!.offset > offset) i--;
    return i;
  }

  /** Budgets the arena before memory grows for it: memory never shrinks again. */
  private reserve(end: number): void {
    if (end > this.budget) {
      const why = this.budget < MAX_RUN_ARENA_BYTES ? `${this.budget} bytes of activations (MAX_RUN_ARENA_BYTES less three times the request's inputs)` : `${MAX_RUN_ARENA_BYTES} bytes of activations (MAX_RUN_ARENA_BYTES)`;
      throw new LimitError(`one run needs more than ${why}: send a smaller batch`);
    }
    this.high = Math.max(this.high, end);
    this.kx.reserve(this.base + end);
  }
}
