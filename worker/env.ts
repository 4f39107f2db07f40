// Bindings and variables the Worker receives (see wrangler.toml and .dev.vars). Declared on Cloudflare.Env so
// that `cloudflare:test`'s env in the workerd tests has the same type.
declare global {
  namespace Cloudflare {
    interface Env {
      BLOBS: R2Bucket;
      /** One Durable Object per job holds its state and runs it (from its alarm). */
      JOB_STATE: DurableObjectNamespace<import("./jobs/state").JobState>;
      RECORDS: KVNamespace;
      /** One Durable Object per experiment: config (source of truth) and metrics. */
      EXPERIMENTS: DurableObjectNamespace<import("./experiments/object").ExperimentObject>;
      /** "token:tenant" pairs, comma separated (a secret in production). */
      TOKENS?: string;
      MAX_UPLOAD_BYTES?: string;
      SESSION_CACHE_BYTES?: string;
    }
  }
}

export type Env = Cloudflare.Env;

export type AppEnv = { Bindings: Env; Variables: { tenant: string } };
