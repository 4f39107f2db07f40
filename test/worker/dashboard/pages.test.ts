// Pages for records whose routes are not on this branch (jobs, experiments): rendered from sample records of their schemas.
import { describe, expect, it } from "vitest";
import { latencyHistograms } from "../../../worker/dashboard/metrics";
import { ExperimentPage, ExperimentsPage, JobPage } from "../../../worker/dashboard/pages";
import { SAMPLE_EXPERIMENT, SAMPLE_PROMETHEUS } from "./samples";

const html = (element: unknown) => String(element);

describe("JobPage", () => {
  it("shows a running job's progress and stage, and polls its state while it runs", () => {
    const page = html(JobPage({ job: { id: "j1", status: "running", stage: "calibrate", progress: 0.42 } }));
    expect(page).toContain('<progress id="job-progress" max="100" value="42">');
    expect(page).toContain('<dd id="job-stage">calibrate</dd>');
    expect(page).toContain('data-status="running"');
    expect(page).toContain('"/jobs/" + encodeURIComponent(root.dataset.jobId) + "/state"');
  });

  it("shows a failed job's error and links a finished job's model", () => {
    expect(html(JobPage({ job: { id: "j2", status: "failed", error: { code: "invalid_recipe", message: "bits" } } }))).toContain("invalid_recipe");
    expect(html(JobPage({ job: { id: "j3", status: "succeeded", result: { modelId: "m1", variantId: "v1" } } }))).toContain('href="/models/m1"');
  });
});

describe("ExperimentPage", () => {
  it("draws traffic shares against their targets, each arm's latency histogram and the candidates' agreement", () => {
    const page = html(ExperimentPage({ experiment: SAMPLE_EXPERIMENT, histograms: latencyHistograms(SAMPLE_PROMETHEUS, "mlp-int8") }));
    expect(page).toContain(">88.0% (target 90%)</text>");
    expect(page).toContain(">12.0% (target 10%)</text>");
    expect(page.match(/data-chart="histogram"/g)).toHaveLength(1);
    expect(page).toContain('data-count="500"');
    expect(page).toContain(">98.50%</text>");
    expect(page).toContain('<table id="history">');
  });

  it("lists experiments, or says the API is missing", () => {
    expect(html(ExperimentsPage({ experiments: [SAMPLE_EXPERIMENT] }))).toContain('href="/experiments/mlp-int8"');
    expect(html(ExperimentsPage({ experiments: null }))).toContain("no experiments API yet");
  });
});
