// Settings precedence: flags over SLIMSERVE_* variables over the config file; login's file is private.
import { mkdtemp, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_URL, configPath, resolveSettings, writeConfig } from "@cli/config.js";

describe("resolveSettings", () => {
  it("prefers flags, then environment variables, then the config file", async () => {
    const path = join(await mkdtemp(join(tmpdir(), "slimserve-config-")), "config.json");
    await writeConfig(path, { url: "http://file", token: "file-token" });
    const env = { SLIMSERVE_CONFIG: path };
    expect(await resolveSettings({}, env)).toEqual({ url: "http://file", token: "file-token", path });
    expect(await resolveSettings({}, { ...env, SLIMSERVE_URL: "http://env", SLIMSERVE_TOKEN: "env-token" })).toMatchObject({ url: "http://env", token: "env-token" });
    expect(await resolveSettings({ url: "http://flag", token: "flag-token" }, { ...env, SLIMSERVE_TOKEN: "env-token" })).toMatchObject({ url: "http://flag", token: "flag-token" });
  });

  it("falls back to the local dev server without a config file", async () => {
    const path = join(await mkdtemp(join(tmpdir(), "slimserve-config-")), "missing.json");
    expect(await resolveSettings({}, { SLIMSERVE_CONFIG: path })).toEqual({ url: DEFAULT_URL, token: undefined, path });
  });

  it("keeps the config under ~/.config/slimserve unless told otherwise", () => {
    expect(configPath({ HOME: "/home/u" })).toBe("/home/u/.config/slimserve/config.json");
    expect(configPath({ HOME: "/home/u", XDG_CONFIG_HOME: "/x" })).toBe("/x/slimserve/config.json");
  });
});

describe("writeConfig", () => {
  it("makes the file readable by its owner only", async () => {
    const path = join(await mkdtemp(join(tmpdir(), "slimserve-config-")), "nested", "config.json");
    await writeConfig(path, { url: "http://x", token: "secret" });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });
});
