// npm run test:worker: the workerd suite (vitest.worker.config.ts, verbose: a line per test), watched for a stall.
// workerd has been caught spinning at full CPU mid-suite with no test running to time out: its main thread loops in
// V8's platform message loop (IoContext::runImpl -> DefaultPlatform::PumpMessageLoop -> cppgc's low-priority
// incremental sweep task posting itself again), in about one run in four of test/worker/routes/inference-v2.worker.test.ts.
// That is the runtime's livelock, not a test outcome: a run that prints nothing for STALL_SECONDS is killed, said so
// loudly, and started once more. A run that fails, fails; a second stall fails.
// Usage: node scripts/workerd-tests.mjs [vitest args...]
import { spawn } from "node:child_process";

/** Five times the longest one test takes (a quality bar: 24 s in a clean-clone CI run) between two lines of output. */
const STALL_SECONDS = Number(process.env.WORKERD_STALL_SECONDS ?? 120);

/** Runs the suite once: "passed", "failed" or "stalled". */
function runOnce(args) {
  return new Promise((resolve) => {
    const child = spawn("npx", ["vitest", "run", "--config", "vitest.worker.config.ts", "--reporter=verbose", ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true });
    let timer;
    let stalled = false;
    const watch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        stalled = true;
        process.stderr.write(`\nworkerd-tests: no output for ${STALL_SECONDS} s: workerd is stalled; killing the run\n`);
        process.kill(-child.pid, "SIGKILL");
      }, STALL_SECONDS * 1000);
    };
    watch();
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      watch();
    });
    child.stderr.on("data", (chunk) => {
      process.stderr.write(chunk);
      watch();
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(stalled ? "stalled" : code === 0 ? "passed" : "failed");
    });
  });
}

const args = process.argv.slice(2);
let outcome = await runOnce(args);
if (outcome === "stalled") {
  process.stderr.write("workerd-tests: running the workerd suite once more after the stall\n");
  outcome = await runOnce(args);
}
process.exit(outcome === "passed" ? 0 : 1);
