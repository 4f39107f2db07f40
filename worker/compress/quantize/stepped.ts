// Compensated roundings a piece at a time: a rounding's steps are a generator that yields between pieces of its work
// (a factorization, a stretch of features, some optimizer steps), where whoever drives it may give the event loop a
// turn, so that one wide weight's rounding (seconds) does not hold the isolate's other requests. Run to the end at
// once, the steps are the synchronous rounding; the pieces change where work pauses, never what it computes.
import type { AffineGrid, LevelRounding, Rounded } from "./affine";

export type RoundingSteps = Generator<void, Rounded, void>;

/** A LevelRounding that can also be run a piece at a time. */
export interface SteppedRounding extends LevelRounding {
  steps(data: Float32Array, grid: AffineGrid): RoundingSteps;
}

/** Runs steps to their end. */
export function drain<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** The rounding whose steps these are: called as a LevelRounding, it runs them to the end. */
export function stepped(steps: (data: Float32Array, grid: AffineGrid) => RoundingSteps): SteppedRounding {
  return Object.assign((data: Float32Array, grid: AffineGrid) => drain(steps(data, grid)), { steps });
}

/** A rounding's steps: its own pieces, or the whole of it as one piece. */
export function* stepsOf(round: LevelRounding, data: Float32Array, grid: AffineGrid): RoundingSteps {
  if ("steps" in round) return yield* (round as SteppedRounding).steps(data, grid);
  return round(data, grid);
}

/** Multiply-adds of float64 arithmetic in a piece: tens of milliseconds in an isolate. */
export const PIECE_WORK = 1 << 25;

/** Counts the work done and yields once a piece's worth is done. */
export class Pieces {
  private done = 0;
  constructor(private readonly size = PIECE_WORK) {}

  *spend(work: number): Generator<void, void, void> {
    this.done += work;
    if (this.done < this.size) return;
    this.done = 0;
    yield;
  }
}
