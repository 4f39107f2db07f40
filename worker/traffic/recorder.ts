// Sends metric events to the experiment's Durable Object after the answer, batched per isolate: the first
// event of a batch schedules its flush (in that request's waitUntil) FLUSH_DELAY_MS later; events from other
// requests in the meantime join it. Each batch is sent once (no retry, so nothing is counted twice).
import type { Env } from "../env";
import { experimentKey, experimentStub, noteVersion } from "./config-cache";
import type { MetricEvent } from "../experiments/arm-metrics";

export const FLUSH_DELAY_MS = 25;
export const MAX_BATCH = 256;

const open = new Map<string, MetricEvent[]>();

export function recordEvent(env: Env, ctx: { waitUntil(p: Promise<unknown>): void }, tenant: string, name: string, event: MetricEvent): void {
  const key = experimentKey(tenant, name);
  let batch = open.get(key);
  if (!batch) {
    batch = [];
    open.set(key, batch);
    ctx.waitUntil(flushLater(env, tenant, name, batch));
  }
  batch.push(event);
  if (batch.length >= MAX_BATCH) open.delete(key); // full: the next event starts another batch
}

async function flushLater(env: Env, tenant: string, name: string, batch: MetricEvent[]): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, FLUSH_DELAY_MS));
  const key = experimentKey(tenant, name);
  if (open.get(key) === batch) open.delete(key);
  try {
    const { version } = await experimentStub(env, tenant, name).record(batch);
    noteVersion(tenant, name, version);
  } catch (err) {
    console.error(`experiment ${key}: dropped ${batch.length} metric events`, err);
  }
}
