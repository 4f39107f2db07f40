// Guardrails: the rules that roll an experiment back on their own, checked after each metrics batch.
import type { ExperimentConfig, Rollback } from "./config";
import { agreementRate, errorRate, type ArmMetrics } from "./arm-metrics";
import { quantile } from "./stats";

const fmt = (x: number) => Number(x.toFixed(4)).toString();

/**
 * The first rule a candidate arm breaks, or null. Rules compare the arm with the control only once both
 * have `minSamples` observations of the quantity concerned (runs, successful runs, compared rows).
 */
export function checkGuardrails(config: ExperimentConfig, metrics: ReadonlyMap<string, ArmMetrics>): Omit<Rollback, "at"> | null {
  const g = config.guardrails;
  if (!g || config.status !== "running") return null;
  const control = metrics.get(config.control);
  for (const { variant, weight } of config.arms) {
    if (variant === config.control || weight <= 0) continue;
    const m = metrics.get(variant);
    if (!m) continue;
    if (g.errorRateMargin !== undefined && control && m.requests >= g.minSamples && control.requests >= g.minSamples) {
      const [arm, ctl] = [errorRate(m), errorRate(control)];
      if (arm - ctl > g.errorRateMargin) {
        return {
          automatic: true,
          arm: variant,
          rule: "error_rate",
          reason: `arm '${variant}' error rate ${fmt(arm)} exceeds control's ${fmt(ctl)} by more than ${g.errorRateMargin} (n=${m.requests} vs ${control.requests})`,
        };
      }
    }
    const okArm = m.requests - m.errors;
    const okControl = control ? control.requests - control.errors : 0;
    if (g.p99MarginMs !== undefined && control && okArm >= g.minSamples && okControl >= g.minSamples) {
      const [arm, ctl] = [quantile(m.latency, 0.99)!, quantile(control.latency, 0.99)!];
      if (arm - ctl > g.p99MarginMs) {
        return {
          automatic: true,
          arm: variant,
          rule: "p99_latency",
          reason: `arm '${variant}' p99 latency ${fmt(arm)} ms exceeds control's ${fmt(ctl)} ms by more than ${g.p99MarginMs} ms (n=${okArm} vs ${okControl})`,
        };
      }
    }
    const rate = agreementRate(m);
    if (g.agreementFloor !== undefined && rate !== null && m.agreement.rows >= g.minSamples && rate < g.agreementFloor) {
      return {
        automatic: true,
        arm: variant,
        rule: "agreement",
        reason: `arm '${variant}' top-1 agreement ${fmt(rate)} is below the floor ${g.agreementFloor} (${m.agreement.rows} rows compared)`,
      };
    }
  }
  return null;
}
