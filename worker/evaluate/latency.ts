// Batch-1 latency measured inside the isolate. A Worker's clock is coarse: workerd ticks in whole milliseconds, and once
// deployed the clock only moves at I/O. So runs are timed in windows long enough for the clock to resolve them, each
// closed by a timer turn (which lets a deployed Worker's clock catch up), with the cost of an empty window subtracted.

export interface LatencyOptions {
  /** A window is grown (doubling its runs) until it spans at least this long. */
  minWindowMs?: number;
  /** Windows timed once the size is found; the median window gives the figure. */
  windows?: number;
  /** Upper bound on runs per window. */
  maxRunsPerWindow?: number;
  /** Stop growing windows once this much time was spent (slow models get fewer, shorter windows). */
  budgetMs?: number;
  /** The clock (ms) and a timer wait: the isolate's by default; tests drive their own. */
  clock?: () => number;
  pause?: (ms: number) => Promise<void>;
}

export interface Latency {
  /** Median milliseconds per run; null when the clock never advanced (nothing could be measured). */
  ms: number | null;
  /** Runs timed (warm-up and sizing runs excluded). */
  runs: number;
}

const timerPause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function measureLatency(run: () => Promise<unknown>, options: LatencyOptions = {}): Promise<Latency> {
  const minWindowMs = options.minWindowMs ?? 20;
  const windows = options.windows ?? 5;
  const maxRuns = options.maxRunsPerWindow ?? 65536;
  const budgetMs = options.budgetMs ?? 2000;
  const clock = options.clock ?? (() => performance.now());
  const pause = options.pause ?? timerPause;
  const turn = () => pause(0);
  const window = async (run: () => Promise<unknown>, runs: number): Promise<number> => {
    await turn();
    const t0 = clock();
    for (let i = 0; i < runs; i++) await run();
    await turn();
    return clock() - t0;
  };
  // A clock that does not move across a 2 ms timer is frozen (deployed, and timers do not count as I/O there).
  if (!(await clockMoves(clock, pause, run))) return { ms: null, runs: 0 };
  await run(); // warm-up: first-run allocation and tier-up stay out of the figure
  // The cheapest empty window: a turn delayed by other work on the machine only ever adds time.
  const overhead = Math.min(await window(run, 0), await window(run, 0), await window(run, 0));
  let runs = 1;
  let spent = 0;
  let elapsed = await window(run, runs);
  spent += elapsed;
  while (elapsed - overhead < minWindowMs && runs < maxRuns && spent < budgetMs) {
    runs = Math.min(runs * 2, maxRuns);
    elapsed = await window(run, runs);
    spent += elapsed;
  }
  const samples = [elapsed];
  while (samples.length < windows && spent + elapsed <= budgetMs) {
    const e = await window(run, runs);
    spent += e;
    samples.push(e);
  }
  const middle = median(samples);
  if (!(middle > 0)) return { ms: null, runs: 0 };
  // Where a window reads no longer than an empty one (a starved machine), the window itself bounds the run from above.
  const net = middle - overhead > 0 ? middle - overhead : middle;
  return { ms: net / runs, runs: runs * samples.length };
}

/**
 * Whether the clock moves: across timer waits of 2 to 64 ms, or else across a few runs (a deployed Worker's clock
 * does neither without I/O; the runs bound what finding that out costs). The waits grow because a loaded machine's
 * isolate has been seen to read the same time across the short ones; 126 ms in all is what a frozen clock costs.
 */
async function clockMoves(clock: () => number, pause: (ms: number) => Promise<void>, run: () => Promise<unknown>): Promise<boolean> {
  for (const ms of PROBE_WAITS_MS) {
    const before = clock();
    await pause(ms);
    if (clock() !== before) return true;
  }
  const before = clock();
  for (let i = 0; i < PROBE_RUNS; i++) await run();
  await pause(0);
  return clock() !== before;
}

const PROBE_WAITS_MS = [2, 4, 8, 16, 32, 64];
const PROBE_RUNS = 16;
