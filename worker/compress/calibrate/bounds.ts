// How large the Hessians of compensated rounding get: the bounds the recipe schema, calibration and rounding share.
// A module of its own with no imports, so that the recipe schema can read them without pulling calibration in.

/** Most inputs a Hessian (or one diagonal block of it) spans: GPTQ and AdaRound factor k x k float64 matrices. */
export const MAX_COMPENSATED_FEATURES = 1024;
/** Fewest inputs per diagonal block: a layer that divides into no larger blocks rounds to nearest. */
export const MIN_BLOCK_FEATURES = 64;
/** Hessians held at once (float64 bytes): a calibration run measures at most this much. */
export const MAX_HESSIAN_BYTES = 32 * 1024 * 1024;
