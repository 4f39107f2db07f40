// Runs the `slimserve` CLI as a user does: a child process of node with bin/slimserve.mjs, in a scratch directory
// whose config file (written by `login`) is the only thing telling it where the server is.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { expect } from "vitest";

const BIN = join(process.cwd(), "bin", "slimserve.mjs");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function cliIn(dir: string, env: Record<string, string>) {
  const cli = (...args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(process.execPath, [BIN, ...args], { env, cwd: dir }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  /** Runs and expects exit 0; gives stdout. */
  const ok = async (...args: string[]): Promise<string> => {
    const r = await cli(...args);
    expect(r.code, `slimserve ${args.join(" ")}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };
  return { cli, ok };
}
