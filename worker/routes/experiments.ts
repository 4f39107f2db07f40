// /v1/experiments: A/B experiments of the original against its variants (create, read, patch, promote,
// rollback, delete), inference through one, feedback on its answers, and /metrics in Prometheus text.
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../app";
import { encodeTensors } from "../../formats/json-numbers.js";
import {
  changeExperiment,
  createExperiment,
  deleteExperiment,
  describeExperiment,
  listExperiments,
  listExperimentPage,
  readExperiment,
  recordFeedback,
} from "../traffic/experiments";
import { DEFAULT_AGREEMENT_SAMPLE, MAX_ARM_WEIGHT, NAME_PATTERN, ORIGINAL } from "../experiments/config";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "../experiments/prometheus";
import { ARM_HEADER, REQUEST_HEADER, serveExperiment } from "../traffic/arms";
import { timedJsonAnswer } from "../serve/server-timing";
import { InferRequestSchema, InferResponseSchema, ServerTimingHeaderSchema } from "./infer";
import { errorResponses, ErrorSchema, NextCursor, PageQuery } from "./schemas";

const ArmVariant = z
  .string()
  .regex(/^(?:[0-9a-f]{24}|original)$/, `an arm is a variant id (24 hex digits) or "${ORIGINAL}"`);

/** A relative weight: finite, 0 to MAX_ARM_WEIGHT (docs/limits.md). */
const ArmWeight = z.number().finite().min(0).max(MAX_ARM_WEIGHT);

const ArmSchema = z.object({ variant: ArmVariant, weight: ArmWeight }).strict();

const GuardrailsSchema = z
  .object({
    minSamples: z.number().int().min(1).default(100).describe("Observations both the arm and the control need before a rule fires."),
    errorRateMargin: z.number().min(0).max(1).optional().describe("Roll back when arm error rate - control error rate exceeds this."),
    p99MarginMs: z.number().min(0).optional().describe("Roll back when arm p99 - control p99 exceeds this many ms."),
    agreementFloor: z.number().min(0).max(1).optional().describe("Roll back when top-1 agreement with control falls below this."),
  })
  .strict()
  .refine((g) => g.errorRateMargin !== undefined || g.p99MarginMs !== undefined || g.agreementFloor !== undefined, {
    message: "guardrails need at least one of errorRateMargin, p99MarginMs, agreementFloor",
  })
  .openapi("Guardrails");

const CreateExperimentSchema = z
  .object({
    name: z.string().regex(NAME_PATTERN, `names match ${NAME_PATTERN.source}`),
    model: z.string().regex(/^[0-9a-f]{24}$/, "model ids are 24 hex digits"),
    arms: z.array(ArmSchema).min(2).max(8),
    mode: z.enum(["split", "shadow"]).default("split"),
    control: ArmVariant,
    sticky: z.object({ header: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "a header name") }).strict().optional(),
    agreementSample: z.number().min(0).max(1).optional().describe(`Share of split-mode requests on which the control also runs (default ${DEFAULT_AGREEMENT_SAMPLE}).`),
    guardrails: GuardrailsSchema.optional(),
  })
  .strict()
  .openapi("CreateExperiment");

const PatchExperimentSchema = z
  .object({
    weights: z.record(ArmVariant, ArmWeight).optional(),
    ramp: z.object({ variant: ArmVariant, percent: z.number().min(0).max(100) }).strict().optional(),
    agreementSample: z.number().min(0).max(1).optional(),
    guardrails: GuardrailsSchema.nullable().optional(),
  })
  .strict()
  .refine((p) => Object.values(p).some((v) => v !== undefined), { message: "nothing to change: send weights, ramp, agreementSample or guardrails" })
  .openapi("PatchExperiment");

const ArmResultSchema = z
  .object({
    variant: z.string(),
    role: z.enum(["control", "candidate"]),
    weight: z.number(),
    share: z.number(),
    requests: z.number(),
    served: z.number(),
    errors: z.number(),
    errorRate: z.number(),
    errorRateCi: z.tuple([z.number(), z.number()]).nullable(),
    latency: z.object({ count: z.number(), meanMs: z.number().nullable(), p50Ms: z.number().nullable(), p95Ms: z.number().nullable(), p99Ms: z.number().nullable() }),
    agreement: z
      .object({
        compared: z.number(),
        rows: z.number(),
        top1Rate: z.number().nullable(),
        top1Ci: z.tuple([z.number(), z.number()]).nullable(),
        meanCosine: z.number().nullable(),
        maxAbsDiff: z.number().nullable(),
      })
      .nullable(),
    accuracy: z.object({ labelled: z.number(), correct: z.number(), rate: z.number().nullable(), ci: z.tuple([z.number(), z.number()]).nullable() }),
    verdict: z
      .object({
        errorRate: z.enum(["insufficient_data", "no_significant_difference", "better", "worse"]),
        accuracy: z.enum(["insufficient_data", "no_significant_difference", "better", "worse"]),
        agreement: z.enum(["insufficient_data", "meets_target", "below_target", "inconclusive"]),
        agreementTarget: z.number(),
      })
      .nullable(),
  })
  .openapi("ArmResult");

const ExperimentSchema = z
  .object({
    name: z.string(),
    model: z.string(),
    mode: z.enum(["split", "shadow"]),
    arms: z.array(z.object({ variant: z.string(), weight: z.number() })),
    control: z.string(),
    sticky: z.object({ header: z.string() }).optional(),
    agreementSample: z.number(),
    guardrails: z
      .object({ minSamples: z.number(), errorRateMargin: z.number().optional(), p99MarginMs: z.number().optional(), agreementFloor: z.number().optional() })
      .optional(),
    status: z.enum(["running", "promoted", "rolled_back"]),
    winner: z.string().optional(),
    rollback: z
      .object({ at: z.string(), automatic: z.boolean(), reason: z.string(), arm: z.string().optional(), rule: z.enum(["error_rate", "p99_latency", "agreement"]).optional() })
      .optional(),
    history: z.array(z.object({ at: z.string(), action: z.enum(["created", "patched", "promoted", "rolled_back"]), detail: z.string() })),
    version: z.number(),
    createdAt: z.string(),
    updatedAt: z.string(),
    results: z.array(ArmResultSchema),
  })
  .openapi("Experiment");

/** An experiment as GET /v1/experiments/:name answers it (the client and the dashboard read this type). */
export type Experiment = z.infer<typeof ExperimentSchema>;

const NameParam = z.object({
  name: z.string().regex(NAME_PATTERN, `names match ${NAME_PATTERN.source}`).openapi({ param: { name: "name", in: "path" } }),
});

const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });
const conflict = { 409: { description: "Name taken, or feedback already given", ...json(ErrorSchema) } };

const create = createRoute({
  method: "post",
  path: "/experiments",
  summary: "Create an experiment: arms (variant ids or \"original\") with weights, split or shadow mode",
  request: { body: { ...json(CreateExperimentSchema), required: true } },
  responses: { 201: { description: "Created", ...json(ExperimentSchema) }, ...errorResponses, ...conflict },
});

const list = createRoute({
  method: "get",
  path: "/experiments",
  summary: "The tenant's experiments with their metrics, a page at a time (by name)",
  request: { query: PageQuery },
  responses: { 200: { description: "Experiments", ...json(z.object({ experiments: z.array(ExperimentSchema), cursor: NextCursor })) }, ...errorResponses },
});

const get = createRoute({
  method: "get",
  path: "/experiments/{name}",
  summary: "An experiment's config and per-arm metrics, intervals and verdicts",
  request: { params: NameParam },
  responses: { 200: { description: "Experiment", ...json(ExperimentSchema) }, ...errorResponses },
});

const patch = createRoute({
  method: "patch",
  path: "/experiments/{name}",
  summary: "Change weights, ramp one arm to a percentage, the agreement sample or the guardrails",
  request: { params: NameParam, body: { ...json(PatchExperimentSchema), required: true } },
  responses: { 200: { description: "Changed", ...json(ExperimentSchema) }, ...errorResponses },
});

const promote = createRoute({
  method: "post",
  path: "/experiments/{name}/promote",
  summary: "One arm takes 100% of the traffic",
  request: { params: NameParam, body: { ...json(z.object({ variant: ArmVariant.optional() }).strict()), required: false } },
  responses: { 200: { description: "Promoted", ...json(ExperimentSchema) }, ...errorResponses },
});

const rollback = createRoute({
  method: "post",
  path: "/experiments/{name}/rollback",
  summary: "Back to the control at 100%",
  request: { params: NameParam, body: { ...json(z.object({ reason: z.string().min(1).max(500).optional() }).strict()), required: false } },
  responses: { 200: { description: "Rolled back", ...json(ExperimentSchema) }, ...errorResponses },
});

const remove = createRoute({
  method: "delete",
  path: "/experiments/{name}",
  summary: "Delete an experiment and its metrics",
  request: { params: NameParam },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

const FeedbackSchema = z
  .object({
    requestId: z.string().min(1).max(100),
    label: z.union([z.number().int().min(0), z.array(z.number().int().min(0)).min(1).max(10_000)]).describe("The true class (one per output row)."),
  })
  .strict()
  .openapi("Feedback");

const feedback = createRoute({
  method: "post",
  path: "/experiments/{name}/feedback",
  summary: "Attach ground truth to a served request: scores the top-1 of every arm that ran on it",
  request: { params: NameParam, body: { ...json(FeedbackSchema), required: true } },
  responses: {
    200: {
      description: "Scored",
      ...json(z.object({ requestId: z.string(), arm: z.string(), scored: z.array(z.object({ arm: z.string(), rows: z.number(), correct: z.number() })) })),
    },
    ...errorResponses,
    ...conflict,
  },
});

const infer = createRoute({
  method: "post",
  path: "/experiments/{name}/infer",
  summary: "Inference through an experiment: one arm answers (named in the body and the x-slimserve-arm header)",
  request: {
    params: NameParam,
    // A token that names no arm taking traffic is ignored (the request is assigned afresh), never an error.
    headers: z.object({ [ARM_HEADER]: z.string().max(64).optional().describe("An arm token from an earlier response: stay on that arm.") }),
    body: { ...json(InferRequestSchema), required: true },
  },
  responses: {
    200: {
      description: "Outputs from the chosen arm",
      headers: z.object({ [ARM_HEADER]: z.string(), [REQUEST_HEADER]: z.string(), "Server-Timing": ServerTimingHeaderSchema }),
      ...json(InferResponseSchema.extend({ experiment: z.string(), arm: z.string(), requestId: z.string() }).openapi("ExperimentInferResponse")),
    },
    ...errorResponses,
  },
});

const metrics = createRoute({
  method: "get",
  path: "/metrics",
  summary: "Per-arm experiment metrics of the tenant in Prometheus text format",
  responses: { 200: { description: "Prometheus text exposition", content: { "text/plain": { schema: z.string() } } }, ...errorResponses },
});

export const experiments = createRouter("invalid_request")
  .openapi(create, async (c) => c.json(describeExperiment(await createExperiment(c.env, c.var.store, c.req.valid("json"))), 201))
  .openapi(list, async (c) => {
    const { cursor, limit } = c.req.valid("query");
    const page = await listExperimentPage(c.env, c.var.store, cursor, limit);
    return c.json({ experiments: page.items.map(describeExperiment), ...(page.cursor ? { cursor: page.cursor } : {}) }, 200);
  })
  .openapi(get, async (c) => c.json(describeExperiment(await readExperiment(c.env, c.var.store, c.req.valid("param").name)), 200))
  .openapi(patch, async (c) => {
    const body = c.req.valid("json");
    const view = await changeExperiment(c.env, c.var.store, c.req.valid("param").name, (s) => s.patch(body));
    return c.json(describeExperiment(view), 200);
  })
  .openapi(promote, async (c) => {
    const { variant } = c.req.valid("json") ?? {};
    const view = await changeExperiment(c.env, c.var.store, c.req.valid("param").name, (s) => s.promote(variant));
    return c.json(describeExperiment(view), 200);
  })
  .openapi(rollback, async (c) => {
    const { reason } = c.req.valid("json") ?? {};
    const view = await changeExperiment(c.env, c.var.store, c.req.valid("param").name, (s) => s.rollback(reason));
    return c.json(describeExperiment(view), 200);
  })
  .openapi(remove, async (c) => {
    await deleteExperiment(c.env, c.var.store, c.req.valid("param").name);
    return c.body(null, 204);
  })
  .openapi(feedback, async (c) => {
    const { requestId, label } = c.req.valid("json");
    return c.json(await recordFeedback(c.env, c.var.store, c.req.valid("param").name, requestId, label), 200);
  });

export const experimentInference = createRouter("invalid_input").openapi(infer, async (c) => {
  const handlerStarted = performance.now();
  const { answer, timing } = await serveExperiment(c.env, c.executionCtx, c.var.store, c.req.valid("param").name, c.req.valid("json").inputs, (h) =>
    c.req.header(h),
  );
  c.header(ARM_HEADER, answer.arm);
  c.header(REQUEST_HEADER, answer.requestId);
  const out = { ...answer, outputs: encodeTensors(answer.outputs) };
  return timedJsonAnswer(c, () => c.json(out, 200), out, timing, handlerStarted);
});

export const prometheusMetrics = createRouter("invalid_request").openapi(metrics, async (c) => {
  const text = renderPrometheus(await listExperiments(c.env, c.var.store));
  return c.text(text, 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE });
});
