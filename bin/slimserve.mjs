#!/usr/bin/env node
// The `slimserve` executable: the CLI in cli/main.js with the process's streams and environment.
import { run } from "../cli/main.js";

process.exitCode = await run(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
