// slimserve's Worker: assembles the /v1 API (auth, routes, one error handler) and the OpenAPI document.
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { bearerAuth } from "./auth";
import { handleError } from "./app";
import { ApiError } from "./errors";
import type { AppEnv, Env } from "./env";
import { inference } from "./routes/infer";
import { models } from "./routes/models";
import { variants } from "./routes/variants";
import { datasets } from "./routes/datasets";
import { jobs } from "./routes/jobs";
import { sensitivity } from "./routes/sensitivity";
import { consumeJobs } from "./jobs/jobs";
import { setSessionBudget } from "./serve/sessions";

/** JSON bodies (recipes, inference tensors) are bounded separately from model uploads. */
const MAX_JSON_BYTES = 32 * 1024 * 1024;

const api = new OpenAPIHono<AppEnv>();
api.use("*", bearerAuth);
api.use("*", async (c, next) => {
  if (c.env.SESSION_CACHE_BYTES) setSessionBudget(Number(c.env.SESSION_CACHE_BYTES));
  if (c.req.header("Content-Type")?.startsWith("application/json")) {
    return bodyLimit({
      maxSize: MAX_JSON_BYTES,
      onError: () => {
        throw new ApiError(413, "payload_too_large", `JSON body exceeds ${MAX_JSON_BYTES} bytes`);
      },
    })(c, next);
  }
  await next();
});
api.route("/", models);
api.route("/", variants);
api.route("/", inference);
api.route("/", datasets);
api.route("/", jobs);
api.route("/", sensitivity);

const app = new OpenAPIHono<AppEnv>();
app.get("/v1/health", (c) => c.json({ status: "ok" }));
app.route("/v1", api);
app.doc31("/openapi.json", {
  openapi: "3.1.0",
  info: { title: "slimserve", version: "1", description: "Compress ONNX models and serve them at the edge." },
  security: [{ bearer: [] }],
});
app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
app.notFound((c) => c.json({ error: { code: "not_found", message: `no route for ${c.req.method} ${c.req.path}` } }, 404));
app.onError(handleError);

export { JobState } from "./jobs/state";

export default {
  fetch: app.fetch,
  queue: (batch: MessageBatch<{ id: string }>, env: Env) => consumeJobs(batch, env),
} satisfies ExportedHandler<Env, { id: string }>;
