// Arm assignment, computed locally: a sticky key hashes to a point in [0, 1) that falls in one arm's
// share of the cumulative weights, so the same key and weights always give the same arm.

export interface WeightedArm {
  variant: string;
  weight: number;
}

/** FNV-1a over UTF-16 code units, then murmur3's fmix32 finalizer for avalanche on similar keys. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The key's point in [0, 1); the salt (the experiment's name) makes experiments split users independently. */
export function unitPoint(salt: string, key: string): number {
  return hash32(`${salt}\u0000${key}`) / 4294967296;
}

/** The arm whose cumulative-weight interval contains u (share of an arm = weight / sum of weights). */
export function pickArm(arms: readonly WeightedArm[], u: number): string {
  const total = arms.reduce((s, a) => s + a.weight, 0);
  if (!(total > 0)) throw new RangeError("arms: weights must not all be zero");
  const target = u * total;
  let cumulative = 0;
  let last: string | undefined;
  for (const arm of arms) {
    if (arm.weight <= 0) continue;
    cumulative += arm.weight;
    last = arm.variant;
    if (target < cumulative) return arm.variant;
  }
  return last!; // u*total rounding up to total
}

export interface AssignmentRequest {
  /** Value of the configured sticky header, if present. */
  stickyKey?: string;
  /** An `x-slimserve-arm` token the client sent back (an arm's variant value). */
  token?: string;
  /** A uniform draw in [0, 1) for requests with neither. */
  random: () => number;
}

/**
 * Sticky header first (deterministic hash), then a returned token naming an arm that still takes traffic,
 * then a random draw. The token handed back is always the chosen arm.
 */
export function assignArm(salt: string, arms: readonly WeightedArm[], request: AssignmentRequest): { arm: string; by: "sticky" | "token" | "random" } {
  if (request.stickyKey !== undefined && request.stickyKey !== "") {
    return { arm: pickArm(arms, unitPoint(salt, request.stickyKey)), by: "sticky" };
  }
  if (request.token !== undefined && arms.some((a) => a.variant === request.token && a.weight > 0)) {
    return { arm: request.token, by: "token" };
  }
  return { arm: pickArm(arms, request.random()), by: "random" };
}
