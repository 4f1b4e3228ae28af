import { afterAll, describe, expect, test } from "bun:test";
import { chmod, cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeRelease, modeOf, runInstall, tempDirs, visudoMissing, which } from "./support.ts";

const tmp = tempDirs();
const noVisudo = visudoMissing();
afterAll(() => tmp.cleanup());

const UNITS = [
  "felhom-cloudflared.service",
  "felhom-cloudflared-token.path",
  "felhom-cloudflared-restart.service",
];

/** A root with a stand-in cloudflared where the Debian package puts it. */
async function rootWithCloudflared(withBinary = true) {
  const base = await tmp.make();
  const root = join(base, "root");
  await mkdir(join(root, "usr/bin"), { recursive: true });
  if (withBinary) {
    await writeFile(join(root, "usr/bin/cloudflared"), "#!/bin/sh\nexit 0\n");
    await chmod(join(root, "usr/bin/cloudflared"), 0o755);
  }
  const rel = await makeRelease(join(base, "rel"), "1.0.0");
  return { root, rel };
}

describe.skipIf(noVisudo)("install.sh --with-tunnel", () => {
  test("writes the project's own units and the set-group-id token directory", async () => {
    const { root, rel } = await rootWithCloudflared();
    const r = runInstall(["--root", root, "--binary", rel.binary, "--with-tunnel"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const unit = await readFile(
      join(root, "etc/systemd/system/felhom-cloudflared.service"),
      "utf8",
    );
    expect(unit).toContain("User=cloudflared\n");
    expect(unit).toContain(
      "ExecStart=/usr/bin/cloudflared --no-autoupdate tunnel --metrics 127.0.0.1:20241 run --token-file /etc/felhom-tunnel/token\n",
    );
    expect(unit).toContain("Restart=on-failure\n");
    const path = await readFile(
      join(root, "etc/systemd/system/felhom-cloudflared-token.path"),
      "utf8",
    );
    expect(path).toContain("PathChanged=/etc/felhom-tunnel/token\n");
    expect(path).toContain("Unit=felhom-cloudflared-restart.service\n");
    for (const u of UNITS) expect(await modeOf(join(root, "etc/systemd/system", u))).toBe(0o644);
    expect(await modeOf(join(root, "etc/felhom-tunnel"))).toBe(0o2750);
    // A second run changes nothing.
    const again = runInstall(["--root", root, "--binary", rel.binary, "--with-tunnel"]);
    expect(again.stdout).toContain("nothing changed");
  });

  test("without cloudflared installed from its package, nothing is downloaded: it stops", async () => {
    const { root, rel } = await rootWithCloudflared(false);
    const r = runInstall(["--root", root, "--binary", rel.binary, "--with-tunnel"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("cloudflared package from Cloudflare's apt repository");
  });

  test("systemd-analyze verify accepts the tunnel units", async () => {
    const analyze = which("systemd-analyze");
    const unitDir = ["/usr/lib/systemd/system", "/lib/systemd/system"].find(
      (d) => Bun.spawnSync(["test", "-f", `${d}/multi-user.target`]).exitCode === 0,
    );
    if (!analyze || !unitDir) {
      if (process.env.CI)
        throw new Error("systemd-analyze and the system units are required in CI");
      return void console.warn("skipped: systemd-analyze or the system units are not here");
    }
    const { root, rel } = await rootWithCloudflared();
    expect(runInstall(["--root", root, "--binary", rel.binary, "--with-tunnel"]).code).toBe(0);
    await cp(unitDir, join(root, "usr/lib/systemd/system"), { recursive: true });
    // systemctl for the restart unit's ExecStart, as on the host.
    await cp("/usr/bin/systemctl", join(root, "usr/bin/systemctl")).catch(() => {});
    const p = Bun.spawnSync([analyze, "verify", `--root=${root}`, ...UNITS]);
    expect(p.stderr.toString()).toBe("");
    expect(p.exitCode).toBe(0);
  });

  test("uninstall removes the tunnel units and keeps the token directory without --purge", async () => {
    const { root, rel } = await rootWithCloudflared();
    expect(runInstall(["--root", root, "--binary", rel.binary, "--with-tunnel"]).code).toBe(0);
    const r = runInstall(["--root", root, "--uninstall"]);
    expect(r.code).toBe(0);
    for (const u of UNITS) expect(r.stdout).toContain(`remove     /etc/systemd/system/${u}`);
    expect(await modeOf(join(root, "etc/felhom-tunnel"))).toBe(0o2750);
  });
});
