// npm test's first step: all present -> proceed; missing and allowed -> apt-get installs them; missing and not
// allowed (or apt-get fails) -> exit 1 with one line naming the command. The decision is driven through a host of
// plain functions; the dpkg check itself runs against this machine's real package database.
import { describe, expect, it } from "vitest";
import { DEBIAN_PACKAGES, debianHost, ensurePrerequisites, type Host } from "@scripts/prerequisites.mjs";

/** A host whose installed packages are `installed`; `apt` says whether apt-get succeeds (and installs). */
function host(installed: string[], privilege: "root" | "sudo" | "none", apt = true) {
  const have = new Set(installed);
  const ran: string[][] = [];
  const said: string[] = [];
  const h: Host = {
    missing: (packages) => packages.filter((p) => !have.has(p)),
    privilege: () => privilege,
    run: (argv) => {
      ran.push([...argv]);
      if (!apt) return 100;
      const install = argv.indexOf("--no-install-recommends");
      if (install >= 0) for (const p of argv.slice(install + 1)) have.add(p);
      return 0;
    },
    say: (line) => said.push(line),
  };
  return { h, ran, said };
}

const ALL = ["clang-19", "lld-19", "libonnx-testdata", "python3-torch", "python3-torchvision", "python3-onnx", "python3-sklearn", "python3-pytest", "python3-tqdm", "dataset-fashion-mnist", "chromium"];

describe("the prerequisites step of npm test", () => {
  it("lists the Debian packages the suite uses", () => {
    expect(Object.keys(DEBIAN_PACKAGES).sort()).toEqual([...ALL].sort());
  });

  it("proceeds without running anything when every package is installed", () => {
    const { h, ran, said } = host(ALL, "none");
    expect(ensurePrerequisites(h)).toBe(0);
    expect(ran).toEqual([]);
    expect(said).toEqual([]);
  });

  it("installs only the missing packages as root, then proceeds", () => {
    const { h, ran } = host(ALL.filter((p) => p !== "chromium" && p !== "clang-19"), "root");
    expect(ensurePrerequisites(h)).toBe(0);
    expect(ran).toEqual([
      ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update", "-qq"],
      ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "--no-install-recommends", "clang-19", "chromium"],
    ]);
  });

  it("installs through sudo -n when sudo needs no password", () => {
    const { h, ran } = host(ALL.filter((p) => p !== "python3-torch"), "sudo");
    expect(ensurePrerequisites(h)).toBe(0);
    expect(ran[1]).toEqual(["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "--no-install-recommends", "python3-torch"]);
  });

  it("stops at once with one line naming the command when it may not install", () => {
    const { h, ran, said } = host(ALL.filter((p) => p !== "chromium" && p !== "lld-19"), "none");
    expect(ensurePrerequisites(h)).toBe(1);
    expect(ran).toEqual([]);
    expect(said).toEqual([
      "npm test needs Debian packages that are missing (lld-19, chromium); install them with: " +
        "sudo apt-get update && sudo apt-get install -y --no-install-recommends lld-19 chromium",
    ]);
  });

  it("stops with the command when apt-get fails (no network, no such package)", () => {
    const { h, said } = host(ALL.filter((p) => p !== "chromium"), "root", false);
    expect(ensurePrerequisites(h)).toBe(1);
    expect(said.at(-1)).toBe(
      "npm test needs Debian packages that are missing (chromium); install them with: " +
        "apt-get update && apt-get install -y --no-install-recommends chromium",
    );
  });

  it("stops when apt-get succeeds but a package is still not installed", () => {
    const { h, said } = host([], "root");
    h.run = () => 0; // apt-get answers 0 and installs nothing
    expect(ensurePrerequisites(h, ["chromium"])).toBe(1);
    expect(said.at(-1)).toMatch(/missing \(chromium\); install them with: apt-get update && /);
  });
});

describe("the Debian host", () => {
  it("finds an installed package present and an unknown one missing", () => {
    expect(debianHost().missing(["dpkg", "no-such-package-slimserve"])).toEqual(["no-such-package-slimserve"]);
  });
});
