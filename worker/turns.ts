// A timer turn: lets requests that arrived while a job or a long request computed run before it goes on. Awaiting a
// session or a promise yields to microtasks only; a job shares its isolate with requests (on `wrangler dev` one
// thread runs them all, and a POST that waits there for more than ~3 s may be dropped with a 503).
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, 0));
}
