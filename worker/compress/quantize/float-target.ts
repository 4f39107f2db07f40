// Rounding toward the float model's outputs on quantized inputs (the objective of GPTAQ's asymmetric calibration, Li
// et al. 2025): a layer measured on the inputs x̃ it sees once the layers before it are quantized, whose float output
// is w·x on the float model's inputs x, has output error E[(w·x - q·x̃)²] = (q - w')ᵀ H̃ (q - w') + const, with
// H̃ = E[x̃ x̃ᵀ] and w' = H̃⁻¹ E[x̃ xᵀ] w. Any rounding against H̃ (GPTQ, AdaRound) that starts from w' instead of w
// therefore minimises the error toward the float outputs, making up for what the layers before it left. The damping
// pulls w' toward w, not toward zero: w' = (H̃ + λI)⁻¹ (E[x̃ xᵀ] w + λ w), so directions the calibration rows do not
// span (fewer rows than inputs) keep w's weights instead of a least-squares guess. The grid (scales) stays the one
// chosen from w; a pruned weight (exactly zero) stays zero.
import type { GemmLayout } from "../../onnx/operators";
import type { LevelRounding } from "./affine";
import { dampedFactors } from "./gptq";
import { Pieces, stepped, stepsOf, type SteppedRounding } from "./stepped";

/**
 * `rounding` applied to each output's target w' = (H̃ + λI)⁻¹ (M w + λ w), per group of the operator table's matrix
 * view `layout`: `hessians` holds H̃ and `cross` M = E[x̃ xᵀ] (rows: quantized inputs, columns: float inputs), one k x k
 * row-major matrix per group each; λ is `dampening` x H̃'s mean diagonal, as GPTQ damps.
 */
export function towardFloatOutputs(rounding: LevelRounding, hessians: Float64Array, cross: Float64Array, layout: GemmLayout, dampening: number): SteppedRounding {
  const { groups, K: k, N: n } = layout;
  if (hessians.length !== groups * k * k || cross.length !== hessians.length) {
    throw new RangeError(`${hessians.length} Hessian and ${cross.length} cross values for ${groups} group(s) of ${k} input features`);
  }
  return stepped(function* (data, grid) {
    const pieces = new Pieces();
    const target = Float32Array.from(data);
    const w = new Float64Array(k);
    const y = new Float64Array(k);
    for (let g = 0; g < groups; g++) {
      const at = (f: number, o: number) => g * layout.groupStride + f * layout.kStride + o * layout.nStride;
      let damped: { factor: Float64Array; damp: number } | undefined;
      for (const f of dampedFactors(hessians.subarray(g * k * k, (g + 1) * k * k), k, dampening, pieces)) {
        if (!f) {
          yield;
          continue;
        }
        damped = f;
        break;
      }
      if (!damped) throw new RangeError("the calibration Hessian is not positive definite even after damping");
      const { factor: l, damp } = damped;
      const m = cross.subarray(g * k * k, (g + 1) * k * k);
      for (let o = 0; o < n; o++) {
        for (let f = 0; f < k; f++) w[f] = data[at(f, o)]!;
        // y = M w + λ w, then L Lᵀ w' = y by forward and back substitution.
        for (let i = 0; i < k; i++) {
          let s = damp * w[i]!;
          for (let j = 0; j < k; j++) s += m[i * k + j]! * w[j]!;
          y[i] = s;
        }
        for (let i = 0; i < k; i++) {
          let s = y[i]!;
          for (let p = 0; p < i; p++) s -= l[i * k + p]! * y[p]!;
          y[i] = s / l[i * k + i]!;
        }
        for (let i = k - 1; i >= 0; i--) {
          let s = y[i]!;
          for (let p = i + 1; p < k; p++) s -= l[p * k + i]! * y[p]!;
          y[i] = s / l[i * k + i]!;
        }
        for (let f = 0; f < k; f++) if (data[at(f, o)] !== 0) target[at(f, o)] = y[f]!;
        yield* pieces.spend(2 * k * k);
      }
    }
    return yield* stepsOf(rounding, target, grid);
  });
}
