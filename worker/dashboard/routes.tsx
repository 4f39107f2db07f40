// The dashboard's routes (GET /, /models/:id, /jobs/:id, /experiments...): server-rendered pages that read the API
// in-process, as the signed-in token, through the same typed client the CLI uses. The token lives in an HttpOnly,
// SameSite=Strict session cookie set by the sign-in form, so page scripts never see it.
import { signInWait } from "../rate-limit";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { JSX } from "hono/jsx/jsx-runtime";
import { SlimserveClient, SlimserveError } from "../../client/slimserve.js";
import type { AppEnv, Env } from "../env";
import { latencyHistograms } from "./record-views";
import { ErrorPage, ExperimentPage, ExperimentsPage, JobPage, LoginPage, ModelPage, ModelsPage } from "./pages";

/** The API itself, called in-process (no network hop, same isolate). */
export type ApiFetch = (request: Request, env: Env, ctx: ExecutionContext | undefined) => Response | Promise<Response>;

const COOKIE = "slimserve_token";

const param = (c: Context<AppEnv>, name: string) => c.req.param(name) ?? "";

const html = (c: Context<AppEnv>, page: JSX.Element, status: 200 | 400 | 401 | 403 | 404 | 429 = 200) => c.html(`<!doctype html>${page}`, status);

/** Sign-in and sign-out accept forms from this origin only (no logging a browser in to someone else's tenant). */
const sameOriginForm: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.header("Sec-Fetch-Site") === "same-origin" || c.req.header("Origin") === new URL(c.req.url).origin) return next();
  return html(c, <ErrorPage title="Refused" message="Forms are accepted from this site's own pages only." />, 403);
};

export function dashboard(api: ApiFetch) {
  const client = (c: Context<AppEnv>, token: string) => {
    let ctx: ExecutionContext | undefined;
    try {
      ctx = c.executionCtx;
    } catch {
      ctx = undefined; // app.request() in tests has no execution context
    }
    return new SlimserveClient({ baseUrl: new URL(c.req.url).origin, token, fetch: async (req) => api(req, c.env, ctx) });
  };

  /** Runs a page with the signed-in client; no or a revoked token shows the sign-in form; API errors show as pages. */
  const signedIn = (render: (api: SlimserveClient, c: Context<AppEnv>) => Promise<Response>) => async (c: Context<AppEnv>) => {
    const token = getCookie(c, COOKIE);
    if (!token) return html(c, <LoginPage />);
    try {
      return await render(client(c, token), c);
    } catch (err) {
      if (!(err instanceof SlimserveError)) throw err;
      if (err.status === 401) {
        deleteCookie(c, COOKIE, { path: "/" });
        return html(c, <LoginPage error="The saved token is no longer accepted; sign in again." />, 401);
      }
      const status = err.status === 404 ? 404 : 400;
      return html(c, <ErrorPage title={status === 404 ? "Not found" : "Request failed"} message={err.message} />, status);
    }
  };

  const onnx = (bytes: Uint8Array, name: string) =>
    new Response(bytes, { headers: { "Content-Type": "application/octet-stream", "Content-Disposition": `attachment; filename="${name}"` } });

  return new Hono<AppEnv>()
    .post("/login", sameOriginForm, async (c) => {
      // Before the form is read: guessing tokens costs one attempt each, LOGIN_ATTEMPTS per period and address.
      const retryAfter = await signInWait(c);
      if (retryAfter > 0) {
        c.header("Retry-After", String(retryAfter));
        return html(c, <LoginPage error={`Too many sign-in attempts; try again in ${retryAfter} s.`} />, 429);
      }
      const form = await c.req.parseBody();
      const token = typeof form.token === "string" ? form.token.trim() : "";
      if (!token) return html(c, <LoginPage error="Enter a token." />, 400);
      try {
        await client(c, token).listModels();
      } catch (err) {
        if (err instanceof SlimserveError && err.status === 401) return html(c, <LoginPage error="That token is not accepted." />, 401);
        throw err;
      }
      setCookie(c, COOKIE, token, { httpOnly: true, sameSite: "Strict", secure: new URL(c.req.url).protocol === "https:", path: "/" });
      return c.redirect("/", 303);
    })
    .post("/logout", sameOriginForm, (c) => {
      deleteCookie(c, COOKIE, { path: "/" });
      return c.redirect("/", 303);
    })
    .get("/", signedIn(async (api, c) => html(c, <ModelsPage models={await api.listModels()} />)))
    .get(
      "/models/:id",
      signedIn(async (api, c) => {
        const model = await api.getModel(param(c, "id"));
        const variants = await Promise.all(model.variants.map((v) => api.getVariant(model.id, v.id)));
        return html(c, <ModelPage model={model} variants={variants} />);
      }),
    )
    .get("/models/:id/onnx", signedIn(async (api, c) => onnx(await api.downloadModel(param(c, "id")), `${param(c, "id")}.onnx`)))
    .get(
      "/models/:id/variants/:vid/onnx",
      signedIn(async (api, c) => onnx(await api.downloadVariant(param(c, "id"), param(c, "vid")), `${param(c, "id")}-${param(c, "vid")}.onnx`)),
    )
    .get("/jobs", (c) => c.redirect(`/jobs/${encodeURIComponent(c.req.query("id") ?? "")}`, 303))
    .get("/jobs/:id", signedIn(async (api, c) => html(c, <JobPage job={await api.getJob(param(c, "id"))} />)))
    .get("/jobs/:id/state", async (c) => {
      // Polled by the job page's script every second: the job's JSON, read with the cookie's token.
      const token = getCookie(c, COOKIE);
      if (!token) return c.json({ error: { code: "unauthorized", message: "sign in first" } }, 401);
      try {
        return c.json(await client(c, token).getJob(param(c, "id")));
      } catch (err) {
        if (err instanceof SlimserveError) return c.json({ error: { code: err.code, message: err.message } }, err.status === 404 ? 404 : 400);
        throw err;
      }
    })
    .get(
      "/experiments",
      signedIn(async (api, c) => {
        try {
          return html(c, <ExperimentsPage experiments={await api.listExperiments()} />);
        } catch (err) {
          // Before the experiments API exists the route is simply unknown.
          if (err instanceof SlimserveError && err.status === 404) return html(c, <ExperimentsPage experiments={null} />);
          throw err;
        }
      }),
    )
    .get(
      "/experiments/:name",
      signedIn(async (api, c) => {
        const name = param(c, "name");
        const [experiment, metrics] = await Promise.all([api.getExperiment(name), api.metricsText().catch(() => "")]);
        return html(c, <ExperimentPage experiment={experiment} histograms={latencyHistograms(metrics, name)} />);
      }),
    );
}
