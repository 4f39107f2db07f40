// The Debian packages `npm test` needs beyond node_modules, checked as its first step: missing ones are installed
// when this user may (root, or sudo without a password), otherwise the run stops at once with the one command to run.
// Usage: node scripts/prerequisites.mjs   (exit 0: all present; 1: missing and not installed)
import { spawnSync } from "node:child_process";
import { pathToFileURL } from "node:url";

/** What each package is for; the one list of the suite's system prerequisites. */
export const DEBIAN_PACKAGES = Object.freeze({
  "clang-19": "compiles the WebAssembly kernels (npm run kernels:check rebuilds them)",
  "lld-19": "links them (wasm-ld-19)",
  "libonnx-testdata": "ONNX's own test models, the codec's and lifting's corpus",
  "python3-torch": "the training script's tests and the model zoo (scripts/zoo/zoo.py)",
  "python3-torchvision": "the model zoo's MobileNetV2 and ResNet-18",
  "python3-onnx": "the training script's tests and the model zoo",
  "python3-sklearn": "the training script's tests",
  "python3-pytest": "runs the training script's tests",
  "python3-tqdm": "the training script's tests",
  "dataset-fashion-mnist": "the training script's ResNet-18 example and its tests (/usr/share/datasets/fashion-mnist)",
  chromium: "the dashboard's browser test",
});

/** @typedef {"root" | "sudo" | "none"} Privilege */

/**
 * Where the check runs: the real one is `debianHost()`; tests hand in plain functions.
 * @typedef {object} Host
 * @property {(packages: readonly string[]) => string[]} missing  the packages that are not installed
 * @property {() => Privilege} privilege  whether apt-get may be run, and how
 * @property {(argv: readonly string[]) => number} run  runs a command with its output on the terminal; its exit status
 * @property {(line: string) => void} say  one line to the terminal
 */

/** The command a person runs to install `packages` (sudo unless they are root). */
export function manualCommand(/** @type {readonly string[]} */ packages, asRoot = false) {
  const sudo = asRoot ? "" : "sudo ";
  return `${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${packages.join(" ")}`;
}

/** The commands this script runs itself, non-interactive (sudo -n never prompts). */
export function installCommands(/** @type {readonly string[]} */ packages, /** @type {Privilege} */ privilege) {
  const prefix = privilege === "sudo" ? ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"] : ["env", "DEBIAN_FRONTEND=noninteractive"];
  return [
    [...prefix, "apt-get", "update", "-qq"],
    [...prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", ...packages],
  ];
}

/**
 * Checks `packages` and installs the missing ones when it may. Returns the exit status: 0 when all are present
 * (before or after installing), 1 otherwise, after saying in one line which command installs them.
 */
export function ensurePrerequisites(/** @type {Host} */ host, packages = Object.keys(DEBIAN_PACKAGES)) {
  const missing = host.missing(packages);
  if (missing.length === 0) return 0;
  const privilege = host.privilege();
  const stop = (/** @type {readonly string[]} */ names) => {
    host.say(`npm test needs Debian packages that are missing (${names.join(", ")}); install them with: ${manualCommand(names, privilege === "root")}`);
    return 1;
  };
  if (privilege === "none") return stop(missing);
  host.say(`installing missing Debian packages: ${missing.join(" ")}`);
  for (const argv of installCommands(missing, privilege)) if (host.run(argv) !== 0) return stop(missing);
  const still = host.missing(missing);
  return still.length === 0 ? 0 : stop(still);
}

/** The machine this runs on: dpkg-query for what is installed, the uid and `sudo -n` for the privilege. */
export function debianHost() {
  /** @type {Host} */
  const host = {
    missing(packages) {
      // One query for all; unknown packages print nothing (and make dpkg-query exit 1), "ii" means installed.
      const r = spawnSync("dpkg-query", ["-W", "-f=${Package} ${db:Status-Abbrev}\n", ...packages], { encoding: "utf8" });
      const installed = new Set(
        (r.stdout ?? "").split("\n").map((line) => line.split(" ")).filter((f) => f[1]?.startsWith("ii")).map((f) => f[0]?.split(":")[0]),
      );
      return packages.filter((p) => !installed.has(p));
    },
    privilege() {
      if (process.getuid?.() === 0) return "root";
      return spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0 ? "sudo" : "none";
    },
    run(argv) {
      const [command, ...args] = argv;
      if (command === undefined) return 1;
      return spawnSync(command, args, { stdio: "inherit" }).status ?? 1;
    },
    say(line) {
      console.error(line);
    },
  };
  return host;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exit(ensurePrerequisites(debianHost()));
}
