// The rounding quality benchmark (bench/quality.worker.ts) alone, in workerd with the workerd tests' setup (bindings,
// fixtures); npm test's configs do not include bench/. Run by `npm run bench -- --only quality`.
import { workerdConfig } from "../vitest.worker.config";

export default workerdConfig(["bench/quality.worker.ts"], 1_800_000);
