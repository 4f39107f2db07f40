// slimserve's Worker: assembles the /v1 API (auth, routes, one error handler) and the OpenAPI document.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bearerAuth } from "./auth";
import { handleError } from "./app";
import { bodyLimits } from "./routes/body-limits";
import { htmlSecurityHeaders } from "./dashboard/security-headers";
import { experimentInference, experiments, prometheusMetrics } from "./routes/experiments";
import type { AppEnv, Env } from "./env";
import { inference } from "./routes/infer";
import { inferenceV2 } from "./routes/inference-v2";
import { models } from "./routes/models";
import { uploads } from "./routes/uploads";
import { variants } from "./routes/variants";
import { datasets } from "./routes/datasets";
import { jobs } from "./routes/jobs";
import { sensitivity } from "./routes/sensitivity";
import { usage } from "./routes/usage";
import { rateLimit } from "./rate-limit";
import { evictModelSessions, setSessionBudget } from "./serve/sessions";
import { forgetModel } from "./serve/serving-cache";
import { onModelChanged } from "./catalog/changes";
import { provideCompressionKernels } from "./compress/simd-quantize";
import { kernelModules } from "./serve/wasm/builds";
import type { ExperimentObject } from "./traffic/experiment-object";
import type { JobState } from "./jobs/state";

declare global {
  namespace Cloudflare {
    interface Env {
      /** One Durable Object per job holds its state and runs it (from its alarm). */
      JOB_STATE: DurableObjectNamespace<JobState>;
      /** One Durable Object per experiment: config (source of truth) and metrics. */
      EXPERIMENTS: DurableObjectNamespace<ExperimentObject>;
    }
  }
}

// Startup. Every compression in the Worker quantizes on the wasm kernels: the plain SIMD128 build, as the Node
// tests use (the relaxed one adds nothing to quantization, and its bytes must not depend on it).
provideCompressionKernels(kernelModules.plain);
// The serving caches drop their copies of a model the catalog deleted.
onModelChanged(evictModelSessions);
onModelChanged(forgetModel);
import { renderApiReference } from "./dashboard/docs";
import { dashboard } from "./dashboard/routes";

const api = new OpenAPIHono<AppEnv>();
api.use("*", bearerAuth);
api.use("*", rateLimit);
api.use("*", async (c, next) => {
  if (c.env.SESSION_CACHE_BYTES) setSessionBudget(Number(c.env.SESSION_CACHE_BYTES));
  await next();
});
api.route("/", models);
api.route("/", uploads);
api.route("/", variants);
api.route("/", inference);
api.route("/", experiments);
api.route("/", experimentInference);
api.route("/", prometheusMetrics);
api.route("/", datasets);
api.route("/", jobs);
api.route("/", sensitivity);
api.route("/", usage);

const health = createRoute({
  method: "get",
  path: "/v1/health",
  summary: "Liveness (no token needed)",
  security: [],
  responses: { 200: { description: "Up", content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } } } },
});

export const OPENAPI_CONFIG = {
  openapi: "3.1.0",
  info: { title: "slimserve", version: "1", description: "Compress ONNX models and serve them at the edge." },
  security: [{ bearer: [] }],
};

const app = new OpenAPIHono<AppEnv>();
app.use("*", async (c, next) => {
  c.set("received", performance.now());
  await next();
});
// Before any route, so that every body the framework parses (the API's JSON, the sign-in form) is bounded.
app.use("*", bodyLimits);
app.use("*", htmlSecurityHeaders);
app.openapi(health, (c) => c.json({ status: "ok" as const }, 200));
app.route("/v1", api);
// The Open Inference Protocol (KServe V2) beside /v1: its own auth on model routes, its own error shape.
app.route("/v2", inferenceV2);
// Prometheus scrapes /metrics by convention; it is tenant-scoped like the rest (bearer token).
app.use("/metrics", bearerAuth);
app.route("/", prometheusMetrics);
app.doc31("/openapi.json", OPENAPI_CONFIG);
app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
app.get("/docs", (c) => c.html(renderApiReference(app.getOpenAPI31Document(OPENAPI_CONFIG))));
app.route("/", dashboard((request, env, ctx) => app.fetch(request, env, ctx)));
app.notFound((c) => c.json({ error: { code: "not_found", message: `no route for ${c.req.method} ${c.req.path}` } }, 404));
app.onError(handleError);

export { app };
export { ExperimentObject } from "./traffic/experiment-object";
export { JobState } from "./jobs/state";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
