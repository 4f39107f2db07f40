// Each workerd test starts from empty local R2/KV (and Durable Objects).
import { reset } from "cloudflare:test";
import { beforeEach } from "vitest";

beforeEach(async () => {
  await reset();
});
