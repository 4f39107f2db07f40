// Pages for records whose routes land later (jobs, experiments): rendered from sample records as the lead specified them.
import { describe, expect, it } from "vitest";
import { ExperimentPage, ExperimentsPage, JobPage } from "../../../worker/dashboard/pages";

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
  const experiment = {
    name: "mlp-int8",
    status: "running",
    arms: [
      { name: "control", weight: 3 },
      { name: "int8", variant: "v1", weight: 1 },
    ],
    metrics: {
      arms: {
        control: { requests: 30, latencyMs: { edges: [0, 1, 2], counts: [20, 10] } },
        int8: { requests: 10, latencyMs: { edges: [0, 1, 2], counts: [9, 1] }, agreement: [{ t: 0, value: 1 }, { t: 1, value: 0.9 }] },
      },
    },
  };

  it("draws traffic shares, a latency histogram per arm and agreement over time", () => {
    const page = html(ExperimentPage({ experiment }));
    expect(page).toContain(">75.0% (target 75%)</text>");
    expect(page).toContain(">25.0% (target 25%)</text>");
    expect(page.match(/data-chart="histogram"/g)).toHaveLength(2);
    expect(page).toContain('data-chart="line"');
  });

  it("lists experiments, or says the API is missing", () => {
    expect(html(ExperimentsPage({ experiments: [experiment] }))).toContain('href="/experiments/mlp-int8"');
    expect(html(ExperimentsPage({ experiments: null }))).toContain("no experiments API yet");
  });
});
