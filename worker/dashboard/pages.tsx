// The dashboard's pages (hono/jsx, rendered on the server): sign-in, models, one model's variants with charts, a job's
// live progress, experiments. Data arrives as the API's JSON; charts come from charts.ts.
import type { Child } from "hono/jsx";
import type { Experiment, Job, Model, ModelSummary, Variant } from "../../client/slimserve.js";
import { formatBytes, recipeLabel, recipeWords } from "../../formats/words.js";
import { barSvg, histogramSvg, lineSvg, scatterSvg } from "./charts";
import { Page } from "./layout";
import { experimentView, parameterStates, roundingComparisons, ROUNDINGS, variantMetrics, type Histogram, type RoundingComparison, type RoundingName } from "./record-views";

const DASH = "—";

const fmt = (v: number | null, digits: number, suffix = "") => (v === null ? DASH : `${v.toFixed(digits)}${suffix}`);
const signedPoints = (v: number | null) => (v === null ? DASH : `${v >= 0 ? "+" : ""}${(v * 100).toFixed(2)} pp`);

const Chart = (props: { svg: string; caption: string }) => (
  <figure class="card">
    <div dangerouslySetInnerHTML={{ __html: props.svg }} />
    <figcaption>{props.caption}</figcaption>
  </figure>
);

export function LoginPage(props: { error?: string }) {
  return (
    <Page title="Sign in">
      <h1>Sign in</h1>
      <form method="post" action="/login" class="card">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required aria-describedby="token-help" />
        <p id="token-help" class="muted">
          The bearer token you use with the API. It is kept in a session cookie (HttpOnly) until you sign out or close the browser.
        </p>
        {props.error ? (
          <p class="error" role="alert">
            {props.error}
          </p>
        ) : null}
        <button type="submit">Sign in</button>
      </form>
    </Page>
  );
}

export function ErrorPage(props: { title: string; message: string }) {
  return (
    <Page title={props.title} nav>
      <h1>{props.title}</h1>
      <p class="error" role="alert">
        {props.message}
      </p>
      <p>
        <a href="/">Back to models</a>
      </p>
    </Page>
  );
}

export function ModelsPage(props: { models: ModelSummary[] }) {
  const models = [...props.models].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
  return (
    <Page title="Models" nav>
      <h1>Models</h1>
      {models.length === 0 ? (
        <p class="card">
          No models yet. Upload one: <code>slimserve upload model.onnx</code> or <code>POST /v1/models</code>.
        </p>
      ) : (
        <div class="card scroll">
          <table id="models">
            <caption>{`${models.length} model${models.length === 1 ? "" : "s"}`}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">ID</th>
                <th scope="col" class="num">Size</th>
                <th scope="col" class="num">Parameters</th>
                <th scope="col">Operators</th>
                <th scope="col">Uploaded</th>
              </tr>
            </thead>
            <tbody>
              {models.map((m) => (
                <tr data-model={m.id}>
                  <th scope="row">
                    <a href={`/models/${m.id}`}>{m.name}</a>
                  </th>
                  <td class="mono">{m.id}</td>
                  <td class="num">{formatBytes(m.bytes)}</td>
                  <td class="num">{m.parameters.toLocaleString("en-US")}</td>
                  <td>{Object.keys(m.ops).sort().join(", ")}</td>
                  <td>{m.createdAt.slice(0, 16).replace("T", " ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form method="get" action="/jobs" class="card">
        <label for="job-id">Follow a job</label>
        <input id="job-id" name="id" type="text" required pattern="[A-Za-z0-9_-]{1,64}" />{" "}
        <button type="submit">Open</button>
      </form>
    </Page>
  );
}

/** Per variant: the share of the model's parameters compressed (by bit-width, or pruned) and left float, with why. */
function ParameterStatesSection(props: { model: Model; variants: Variant[] }) {
  const percent = (share: number) => `${(share * 100).toFixed(share > 0 && share < 0.001 ? 3 : 1)}%`;
  return (
    <>
      <h2 id="parameters-heading">Parameters by state</h2>
      <p class="muted">
        {`Each variant's share of the model's ${props.model.parameters.toLocaleString("en-US")} parameters: compressed (quantized to a bit-width, or pruned), or left float with the reason compression gave.`}
      </p>
      {props.variants.map((v) => {
        const states = parameterStates(v, props.model.parameters);
        return (
          <div class="card scroll" data-parameters={v.id}>
            <div class="states" role="img" aria-label={states.rows.map((r) => `${r.label} ${percent(r.share)}`).join(", ")}>
              {states.rows.map((r) => (
                <span class={r.state} style={`width:${(r.share * 100).toFixed(2)}%`} title={`${r.label}: ${percent(r.share)}`} />
              ))}
            </div>
            <table id={`parameters-${v.id}`}>
              <caption>{`${v.id.slice(0, 12)}: ${recipeWords(v.recipe)}`}</caption>
              <thead>
                <tr>
                  <th scope="col">State</th>
                  <th scope="col">How, or why left float</th>
                  <th scope="col" class="num">Parameters</th>
                  <th scope="col" class="num">Share</th>
                  <th scope="col">Weights</th>
                </tr>
              </thead>
              <tbody>
                {states.rows.map((r) => (
                  <tr data-state={r.state}>
                    <td>{r.state === "compressed" ? "compressed" : "left float"}</td>
                    <td>{r.label}</td>
                    <td class="num">{r.elements.toLocaleString("en-US")}</td>
                    <td class="num">{percent(r.share)}</td>
                    <td class="mono">{r.weights.length > 4 ? `${r.weights.slice(0, 4).join(", ")} and ${r.weights.length - 4} more` : r.weights.join(", ") || DASH}</td>
                  </tr>
                ))}
                {states.unsized.map((u) => (
                  <tr data-state="float">
                    <td>left float</td>
                    <td>{u.reason}</td>
                    <td class="num">{DASH}</td>
                    <td class="num">{DASH}</td>
                    <td class="mono">{u.name}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        );
      })}
    </>
  );
}

const ROUNDING_HEADINGS: Record<RoundingName, string> = {
  nearest: "Nearest",
  gptq: "GPTQ",
  adaround: "AdaRound",
  "nearest+bias": "Nearest + bias correction",
  "gptq+bias": "GPTQ + bias correction",
  "adaround+bias": "AdaRound + bias correction",
  "gptq-quantized": "GPTQ, quantized inputs",
  "adaround-quantized": "AdaRound, quantized inputs",
  "gptq-quantized+bias": "GPTQ, quantized inputs + bias correction",
  "adaround-quantized+bias": "AdaRound, quantized inputs + bias correction",
};

/** Recipes made with more than one rounding, side by side: each rounding's accuracy change (or agreement) and size. */
function RoundingSection(props: { comparisons: RoundingComparison[] }) {
  const cell = (x: RoundingComparison["variants"][RoundingName]) => {
    if (!x) return DASH;
    const figure = x.m.accuracyDelta !== null ? signedPoints(x.m.accuracyDelta) : x.m.agreement !== null ? `${(x.m.agreement * 100).toFixed(2)}% agree` : "not evaluated";
    return `${figure} (${formatBytes(x.v.bytes ?? 0)})`;
  };
  // A rounding method's columns (with and without bias correction) show when some recipe was made with it.
  const methods = new Set(props.comparisons.flatMap((c) => Object.keys(c.variants).map((r) => r.split("+")[0])));
  const shown = ROUNDINGS.filter((r) => r.startsWith("nearest") || methods.has(r.split("+")[0]!));
  return (
    <>
      <h2 id="rounding-heading">Nearest against compensated rounding</h2>
      <p class="muted">Variants of one recipe that differ only in how their levels were chosen: accuracy change against FP32 (agreement where the dataset has no labels) and size, side by side.</p>
      <div class="card scroll">
        <table id="rounding" aria-labelledby="rounding-heading">
          <thead>
            <tr>
              <th scope="col">Recipe</th>
              {shown.map((r) => (
                <th scope="col" class="num">
                  {ROUNDING_HEADINGS[r]}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.comparisons.map((c) => (
              <tr>
                <th scope="row">{recipeWords(c.recipe)}</th>
                {shown.map((r) => (
                  <td class="num" data-rounding={r}>
                    {cell(c.variants[r])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function ModelPage(props: { model: Model; variants: Variant[] }) {
  const { model } = props;
  const variants = [...props.variants].sort((a, b) => b.bits - a.bits || a.bytes - b.bytes);
  const rows = variants.map((v) => ({ v, m: variantMetrics(v) }));
  const comparisons = roundingComparisons(variants);
  // Chart labels name the recipe; two variants with one recipe label (other settings) get their id's start too.
  const counts = new Map<string, number>();
  for (const v of variants) counts.set(recipeLabel(v.recipe), (counts.get(recipeLabel(v.recipe)) ?? 0) + 1);
  const label = (v: Variant) => (counts.get(recipeLabel(v.recipe))! > 1 ? `${recipeLabel(v.recipe)} ${v.id.slice(0, 4)}` : recipeLabel(v.recipe));
  const scatter = scatterSvg({
    title: `${model.name}: size versus accuracy`,
    points: [{ x: model.bytes, y: 0, label: "FP32" }, ...rows.map(({ v, m }) => ({ x: v.bytes, y: m.accuracyDelta === null ? null : m.accuracyDelta * 100, label: label(v) }))],
    x: { label: "size (bytes)", format: (b) => (b >= 1e6 ? `${Number((b / 1e6).toPrecision(3))}M` : b >= 1e3 ? `${Number((b / 1e3).toPrecision(3))}k` : String(b)) },
    y: { label: "accuracy Δ vs FP32 (pp)", format: (p) => p.toFixed(2) },
  });
  const sizes = barSvg({
    title: `${model.name}: bytes per variant`,
    bars: [{ label: "FP32", value: model.bytes, display: formatBytes(model.bytes) }, ...variants.map((v) => ({ label: label(v), value: v.bytes, display: `${formatBytes(v.bytes)} (${v.compressionRatio.toFixed(2)}x)` }))],
  });
  // FP32's own accuracy and latency come from the reports, when they were all measured on one dataset.
  const evaluated = rows.filter(({ m }) => m.dataset !== null);
  const datasets = [...new Set(evaluated.map(({ m }) => `${m.dataset}|${m.samples ?? "?"}`))];
  const single = datasets.length === 1 ? evaluated[0]!.m : null;
  const latencyCell = (ms: number | null, reported: boolean) =>
    ms !== null ? `${ms < 1 ? ms.toPrecision(2) : ms.toFixed(2)} ms` : reported ? "not measured" : DASH;
  const io = (sigs: Model["inputs"]) => sigs.map((s) => `${s.name}: ${s.type}[${(s.shape ?? []).map((d) => d ?? "?").join(", ")}]`).join("; ");
  return (
    <Page title={model.name} nav>
      <h1>{model.name}</h1>
      <div class="card">
        <dl class="kv">
          <dt>ID</dt>
          <dd class="mono">{model.id}</dd>
          <dt>Size</dt>
          <dd>{formatBytes(model.bytes)}</dd>
          <dt>Parameters</dt>
          <dd>{model.parameters.toLocaleString("en-US")}</dd>
          <dt>Inputs</dt>
          <dd class="mono">{io(model.inputs)}</dd>
          <dt>Outputs</dt>
          <dd class="mono">{io(model.outputs)}</dd>
          <dt>Opset</dt>
          <dd>{model.opset.map((o) => `${o.domain || "ai.onnx"} ${o.version}`).join(", ")}</dd>
        </dl>
      </div>
      <h2 id="variants-heading">Variants</h2>
      <p class="muted" id="eval-note">
        {evaluated.length === 0
          ? 'Accuracy Δ and agreement are measured against the FP32 original when a variant is evaluated on a dataset; "—" means not measured yet.'
          : `Accuracy (top-1), its change and agreement are measured against the FP32 original on ${datasets.length === 1 ? `dataset ${single!.dataset} (${single!.samples} samples)` : `${datasets.length} datasets`}; "—" means not measured. Latency is the median batch-1 time inside the Worker, timed over windows of runs long enough for its coarse clock; "not measured" means the clock could not resolve it. Wire is the stored variant's brotli size.`}
      </p>
      <div class="card scroll">
        <table id="variants" aria-labelledby="variants-heading">
          <thead>
            <tr>
              <th scope="col">Variant</th>
              <th scope="col" class="num">Bits</th>
              <th scope="col">Recipe</th>
              <th scope="col" class="num">Bytes</th>
              <th scope="col" class="num">Ratio</th>
              <th scope="col" class="num">Wire (br)</th>
              <th scope="col" class="num">Accuracy</th>
              <th scope="col" class="num">Accuracy Δ</th>
              <th scope="col" class="num">Agreement</th>
              <th scope="col" class="num">Latency</th>
              <th scope="col">Engine</th>
            </tr>
          </thead>
          <tbody>
            <tr data-variant="original">
              <th scope="row">FP32 original</th>
              <td class="num">32</td>
              <td>original</td>
              <td class="num">{model.bytes}</td>
              <td class="num">1.00x</td>
              <td class="num">{DASH}</td>
              <td class="num">{fmt(single?.fp32Accuracy == null ? null : single.fp32Accuracy * 100, 2, "%")}</td>
              <td class="num">reference</td>
              <td class="num">reference</td>
              <td class="num">{single ? latencyCell(single.fp32LatencyMs, true) : DASH}</td>
              <td>{single?.fp32Engine ?? DASH}</td>
            </tr>
            {rows.map(({ v, m }) => (
              <tr data-variant={v.id}>
                <th scope="row" class="mono">
                  <a href={`/models/${model.id}/variants/${v.id}/onnx`} download title={`Download variant ${v.id} (ONNX)`}>
                    {v.id.slice(0, 12)}
                  </a>
                </th>
                <td class="num">{v.bits}</td>
                <td>{recipeWords(v.recipe)}</td>
                <td class="num">{v.bytes}</td>
                <td class="num">{`${v.compressionRatio.toFixed(2)}x`}</td>
                <td class="num">{m.wire ? String(m.wire.br) : DASH}</td>
                <td class="num">{fmt(m.accuracy === null ? null : m.accuracy * 100, 2, "%")}</td>
                <td class="num">{signedPoints(m.accuracyDelta)}</td>
                <td class="num">{fmt(m.agreement === null ? null : m.agreement * 100, 2, "%")}</td>
                <td class="num">{latencyCell(m.latencyMs, m.dataset !== null)}</td>
                <td>{m.engine ?? DASH}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {comparisons.length > 0 ? <RoundingSection comparisons={comparisons} /> : null}
      {variants.length > 0 ? <ParameterStatesSection model={model} variants={variants} /> : null}
      {variants.length === 0 ? (
        <p class="card">
          No variants yet: <code>{`slimserve compress ${model.id} --bits 8`}</code>
        </p>
      ) : null}
      <div class="charts">
        <Chart svg={scatter} caption="Size (x) against accuracy change (y); the dashed line is the Pareto front: no other variant is both smaller and more accurate." />
        <Chart svg={sizes} caption="Bytes of the original and of each variant, with the compression ratio." />
      </div>
    </Page>
  );
}

export const JOB_SCRIPT = `
(() => {
  const root = document.getElementById("job");
  const running = new Set(["queued", "pending", "running"]);
  const bar = document.getElementById("job-progress");
  const text = (id, v) => { document.getElementById(id).textContent = v; };
  function render(job) {
    const p = typeof job.progress === "number" ? job.progress : running.has(job.status) ? 0 : 1;
    bar.value = Math.round(p * 100);
    text("job-percent", Math.round(p * 100) + "%");
    text("job-status", job.status);
    text("job-stage", job.stage || "—");
    if (job.error) text("job-error", typeof job.error === "string" ? job.error : (job.error.code || "") + ": " + (job.error.message || ""));
    root.dataset.status = job.status;
    const model = job.result && (job.result.modelId || (job.result.variant && job.result.variant.modelId));
    const link = document.getElementById("job-result");
    if (job.status === "succeeded" && typeof model === "string" && /^[0-9a-f]{24}$/.test(model)) {
      link.href = "/models/" + model;
      link.hidden = false;
    }
  }
  async function tick() {
    try {
      const res = await fetch("/jobs/" + encodeURIComponent(root.dataset.jobId) + "/state", { headers: { Accept: "application/json" } });
      if (!res.ok) { text("job-error", "could not read the job: HTTP " + res.status); return; }
      const job = await res.json();
      render(job);
      if (running.has(job.status)) setTimeout(tick, 1000);
    } catch (e) { text("job-error", String(e)); setTimeout(tick, 3000); }
  }
  if (running.has(root.dataset.status)) setTimeout(tick, 1000);
})();
`;

export function JobPage(props: { job: Job }) {
  const { job } = props;
  const p = typeof job.progress === "number" ? job.progress : ["queued", "pending", "running"].includes(job.status) ? 0 : 1;
  const result = (job.result ?? {}) as { modelId?: string; variant?: { modelId?: string } | null };
  const modelId = job.status === "succeeded" ? (result.modelId ?? result.variant?.modelId) : undefined;
  const error = job.error as { code?: string; message?: string } | string | undefined;
  return (
    <Page title={`Job ${job.id}`} nav>
      <h1>
        Job <span class="mono">{job.id}</span>
      </h1>
      <section class="card" id="job" data-job-id={job.id} data-status={job.status} aria-live="polite">
        <label for="job-progress">
          Progress: <span id="job-percent">{`${Math.round(p * 100)}%`}</span>
        </label>
        <progress id="job-progress" max="100" value={String(Math.round(p * 100))} />
        <dl class="kv" style="margin-top:.6rem">
          <dt>Kind</dt>
          <dd id="job-kind">{job.kind ?? DASH}</dd>
          <dt>Status</dt>
          <dd id="job-status">{job.status}</dd>
          <dt>Stage</dt>
          <dd id="job-stage">{job.stage ?? DASH}</dd>
        </dl>
        <p id="job-error" class="error">
          {error ? (typeof error === "string" ? error : `${error.code ?? ""}: ${error.message ?? ""}`) : ""}
        </p>
        <p>
          <a id="job-result" href={modelId ? `/models/${modelId}` : "/"} hidden={!modelId}>
            Open the model
          </a>
        </p>
      </section>
      <script dangerouslySetInnerHTML={{ __html: JOB_SCRIPT }} />
    </Page>
  );
}

export function ExperimentsPage(props: { experiments: Experiment[] | null }) {
  return (
    <Page title="Experiments" nav>
      <h1>Experiments</h1>
      {props.experiments === null ? (
        <p class="card">This server has no experiments API yet.</p>
      ) : props.experiments.length === 0 ? (
        <p class="card">
          No experiments. Start one with <code>slimserve experiment create</code>.
        </p>
      ) : (
        <div class="card scroll">
          <table id="experiments">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Model</th>
                <th scope="col">Arms</th>
              </tr>
            </thead>
            <tbody>
              {props.experiments.map((raw) => {
                const x = experimentView(raw);
                return (
                  <tr>
                    <th scope="row">
                      <a href={`/experiments/${encodeURIComponent(x.name)}`}>{x.name}</a>
                    </th>
                    <td>{x.status ?? DASH}</td>
                    <td class="mono">{x.model ?? DASH}</td>
                    <td>{x.arms.map((a) => a.variant).join(", ") || DASH}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}

export function ExperimentPage(props: { experiment: Experiment; histograms?: Map<string, Histogram> }) {
  const x = experimentView(props.experiment, props.histograms);
  const charts: Child[] = [];
  if (x.arms.length > 0) {
    charts.push(
      <Chart
        svg={barSvg({
          title: "Traffic share per arm",
          bars: x.arms.map((a) => {
            const share = a.servedShare ?? a.weight ?? 0;
            const target = a.weight === null ? "" : ` (target ${(a.weight * 100).toFixed(0)}%)`;
            return { label: a.variant.slice(0, 12), value: share * 100, display: `${(share * 100).toFixed(1)}%${a.servedShare === null ? " target" : target}` };
          }),
        })}
        caption="Share of answered requests each arm served, with the share its weight asks for."
      />,
    );
  }
  for (const a of x.arms) {
    if (a.latencyHistogram) {
      charts.push(
        <Chart
          svg={histogramSvg({ title: `Latency of ${a.variant}`, edges: a.latencyHistogram.edges, counts: a.latencyHistogram.counts, x: { label: "ms" } })}
          caption={`Latency histogram of arm ${a.variant} (from /v1/metrics).`}
        />,
      );
    }
  }
  const candidates = x.arms.filter((a) => a.agreement !== null);
  if (candidates.length > 0) {
    charts.push(
      <Chart
        svg={barSvg({ title: "Top-1 agreement with the control", bars: candidates.map((a) => ({ label: a.variant.slice(0, 12), value: a.agreement! * 100, display: `${(a.agreement! * 100).toFixed(2)}%` })) })}
        caption="Share of compared rows where the arm's top-1 matched the control's (cumulative)."
      />,
    );
  }
  const ms = (v: number | null) => fmt(v, 2, " ms");
  return (
    <Page title={x.name} nav>
      <h1>{x.name}</h1>
      <p class="muted">{`Status: ${x.status ?? DASH} · mode ${x.mode ?? DASH} · model ${x.model ?? DASH}`}</p>
      <div class="card scroll">
        <table id="arms">
          <caption>Arms</caption>
          <thead>
            <tr>
              <th scope="col">Arm</th>
              <th scope="col">Role</th>
              <th scope="col" class="num">Weight</th>
              <th scope="col" class="num">Served</th>
              <th scope="col" class="num">p50</th>
              <th scope="col" class="num">p95</th>
              <th scope="col" class="num">p99</th>
              <th scope="col" class="num">Agreement</th>
              <th scope="col" class="num">Accuracy</th>
            </tr>
          </thead>
          <tbody>
            {x.arms.map((a) => (
              <tr data-arm={a.variant}>
                <th scope="row" class="mono">{a.variant}</th>
                <td>{a.role ?? DASH}</td>
                <td class="num">{a.weight === null ? DASH : `${(a.weight * 100).toFixed(0)}%`}</td>
                <td class="num">{a.served ?? DASH}</td>
                <td class="num">{ms(a.latency.p50Ms)}</td>
                <td class="num">{ms(a.latency.p95Ms)}</td>
                <td class="num">{ms(a.latency.p99Ms)}</td>
                <td class="num">{fmt(a.agreement === null ? null : a.agreement * 100, 2, "%")}</td>
                <td class="num">{fmt(a.accuracy === null ? null : a.accuracy * 100, 2, "%")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="charts">{charts}</div>
      {x.history.length > 0 ? (
        <div class="card scroll">
          <table id="history">
            <caption>History</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {x.history.map((h) => (
                <tr>
                  <td>{h.at.slice(0, 19).replace("T", " ")}</td>
                  <td>{h.action}</td>
                  <td>{h.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Page>
  );
}
