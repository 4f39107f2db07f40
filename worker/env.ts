// Bindings and variables the Worker receives (see wrangler.toml and .dev.vars).
export interface Env {
  BLOBS: R2Bucket;
  RECORDS: KVNamespace;
  /** "token:tenant" pairs, comma separated (a secret in production). */
  TOKENS?: string;
  MAX_UPLOAD_BYTES?: string;
  SESSION_CACHE_BYTES?: string;
}

export type AppEnv = { Bindings: Env; Variables: { tenant: string } };
