// Where the CLI finds its server and token: flags, then SLIMSERVE_URL/SLIMSERVE_TOKEN, then the config file `login` writes.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export const DEFAULT_URL = "http://127.0.0.1:8787";

/** @typedef {{ url?: string, token?: string }} Settings */

/** @param {Record<string, string | undefined>} env */
export function configPath(env) {
  if (env.SLIMSERVE_CONFIG) return env.SLIMSERVE_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "slimserve", "config.json");
}

/** @param {string} path @returns {Promise<Settings>} */
export async function readConfig(path) {
  let text;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code === "ENOENT") return {};
    throw err;
  }
  const parsed = JSON.parse(text);
  return { url: typeof parsed.url === "string" ? parsed.url : undefined, token: typeof parsed.token === "string" ? parsed.token : undefined };
}

/** The token is a secret: the file is readable by its owner only. @param {string} path @param {Settings} settings */
export async function writeConfig(path, settings) {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
}

/**
 * @param {Settings} flags
 * @param {Record<string, string | undefined>} env
 * @returns {Promise<{ url: string, token: string | undefined, path: string }>}
 */
export async function resolveSettings(flags, env) {
  const path = configPath(env);
  const file = await readConfig(path);
  return {
    url: flags.url ?? env.SLIMSERVE_URL ?? file.url ?? DEFAULT_URL,
    token: flags.token ?? env.SLIMSERVE_TOKEN ?? file.token,
    path,
  };
}
