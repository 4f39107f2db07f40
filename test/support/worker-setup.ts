// Each workerd test starts from empty local R2/KV (and Durable Objects), and from an isolate that remembers none
// of the records the storage held before.
import { reset } from "cloudflare:test";
import { beforeEach } from "vitest";
import { forgetAll } from "@worker/serve/serving-cache";

beforeEach(async () => {
  await reset();
  forgetAll();
});
