// Global setup for the Node tests: the small model zoo and the small torchvision families are generated once per
// run (cached by the content of scripts/zoo/zoo.py under .cache/zoo/), before the test files that read them start in
// parallel.
import { ensureZoo } from "./zoo";

export default async function setup() {
  await ensureZoo("small");
  await ensureZoo("small", "families");
}
