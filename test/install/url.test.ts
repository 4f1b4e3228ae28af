import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  makeRelease,
  runInstallAsync,
  sha256,
  snapshot,
  tempDirs,
  visudoMissing,
} from "./support.ts";

const tmp = tempDirs();
// Each test runs a real install from the URL, which needs visudo.
const noVisudo = visudoMissing();
// install.sh files a release under the version it reports (docs/self-update.md#layout).
const BIN = "/var/lib/felhom-agent/versions/3.0.0/felhom-agent";

// A release server on loopback: /good/ is a proper release directory, /bad/ serves a
// binary whose bytes do not match its SHA256SUMS (a corrupted or tampered download).
let server: ReturnType<typeof Bun.serve>;
let base: string;
const files = new Map<string, string>();
const requests: string[] = [];

beforeAll(async () => {
  const dir = await tmp.make();
  const good = await makeRelease(join(dir, "good"), "3.0.0", [
    "felhom-agent",
    "felhom-agent-baseline",
  ]);
  files.set("/good/felhom-agent", good.content);
  files.set(
    "/good/felhom-agent-baseline",
    await readFile(join(dir, "good/felhom-agent-baseline"), "utf8"),
  );
  files.set("/good/SHA256SUMS", await readFile(good.sums, "utf8"));
  files.set("/bad/felhom-agent", `${good.content}# one byte too many\n`);
  files.set("/bad/SHA256SUMS", await readFile(good.sums, "utf8"));
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      requests.push(path);
      const body = files.get(path);
      return body === undefined ? new Response("not found", { status: 404 }) : new Response(body);
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  server?.stop(true);
  await tmp.cleanup();
});

async function freshRoot(): Promise<string> {
  const root = join(await tmp.make(), "root");
  await mkdir(root);
  return root;
}

describe.skipIf(noVisudo)("install from a release URL", () => {
  test("the binary's own URL, with SHA256SUMS next to it", async () => {
    const root = await freshRoot();
    const r = await runInstallAsync(["--root", root, "--url", `${base}/good/felhom-agent`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`download   ${base}/good/SHA256SUMS`);
    expect(await readFile(join(root, BIN), "utf8")).toBe(files.get("/good/felhom-agent") as string);
  });

  test("a release directory: the build for this CPU, checked against its line", async () => {
    const root = await freshRoot();
    const r = await runInstallAsync(["--root", root, "--url", `${base}/good/`]);
    expect(r.code).toBe(0);
    const installed = await readFile(join(root, BIN), "utf8");
    const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
    const name = /\bavx2\b/.test(cpuinfo) ? "felhom-agent" : "felhom-agent-baseline";
    expect(installed).toBe(files.get(`/good/${name}`) as string);
    expect(r.stdout).toContain(`verified   ${name} sha256 ${sha256(installed)}`);
  });

  test("a re-run from the URL changes nothing", async () => {
    const root = await freshRoot();
    const url = `${base}/good/felhom-agent`;
    expect((await runInstallAsync(["--root", root, "--url", url])).code).toBe(0);
    const before = await snapshot(root);
    const r = await runInstallAsync(["--root", root, "--url", url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("nothing changed");
    expect(await snapshot(root)).toEqual(before);
  });

  test("a corrupted download is refused and the installed binary is untouched", async () => {
    const root = await freshRoot();
    expect(
      (await runInstallAsync(["--root", root, "--url", `${base}/good/felhom-agent`])).code,
    ).toBe(0);
    const before = await snapshot(root);
    const r = await runInstallAsync(["--root", root, "--url", `${base}/bad/felhom-agent`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("SHA-256 mismatch for felhom-agent");
    expect(await snapshot(root)).toEqual(before);
  });

  test("a missing file is a download failure that changes nothing", async () => {
    const root = await freshRoot();
    const r = await runInstallAsync(["--root", root, "--url", `${base}/nowhere/felhom-agent`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`download failed: ${base}/nowhere/felhom-agent`);
    expect(await snapshot(root)).toEqual({});
  });

  test("plain http to anything but loopback is refused before any download", async () => {
    const root = await freshRoot();
    const seen = requests.length;
    const r = await runInstallAsync(["--root", root, "--url", "http://192.0.2.1/felhom-agent"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--url must be https://");
    expect(requests.length).toBe(seen);
    expect(await snapshot(root)).toEqual({});
  });
});
