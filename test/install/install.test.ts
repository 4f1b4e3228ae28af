import { afterAll, describe, expect, test } from "bun:test";
import {
  cp,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import {
  activeLines,
  INSTALL_SH,
  isRoot,
  makeRelease,
  modeOf,
  PRIV_DIR,
  type RunResult,
  runInstall,
  snapshot,
  tempDirs,
  visudoMissing,
  WRAPPERS,
  which,
} from "./support.ts";

const tmp = tempDirs();
// Everything but the usage and shell checks runs a real install, which needs visudo.
const noVisudo = visudoMissing();
afterAll(() => tmp.cleanup());

/**
 * A root with version `v` freshly installed, made once per version by a real run of install.sh
 * (its result checked) and copied with `cp -a` (modes, owners, times and links as they are) for
 * each test that needs one: one process instead of a whole install each time.
 */
const templates = new Map<string, { root: string; first: RunResult }>();

async function template(v: string) {
  const known = templates.get(v);
  if (known) return known;
  const base = await tmp.make();
  const root = join(base, "root");
  await mkdir(root);
  const rel = await makeRelease(join(base, `rel-${v}`), v);
  const first = runInstall(["--root", root, "--binary", rel.binary]);
  expect(first.stderr).toBe("");
  expect(first.code).toBe(0);
  const made = { root, first };
  templates.set(v, made);
  return made;
}

/** A fresh root with version `v` installed; returns the paths involved. */
async function installed(v = "1.0.0") {
  const t = await template(v);
  const base = await tmp.make();
  const root = join(base, "root");
  const copy = Bun.spawnSync(["cp", "-a", t.root, root]);
  expect(copy.exitCode).toBe(0);
  const rel = await makeRelease(join(base, `rel-${v}`), v);
  return { base, root, rel, first: t.first };
}

const BIN = "/usr/local/bin/felhom-agent";
const STATE = "/var/lib/felhom-agent";
/** Where a release lands: the same place the agent's self-update puts a version. */
const versionBin = (v: string) => `${STATE}/versions/${v}/felhom-agent`;
const linkOf = (root: string, path: string) => readlink(join(root, path));
const UNIT = "/etc/systemd/system/felhom-agent.service";
const SUDOERS = "/etc/sudoers.d/felhom-agent";
const CONFIG = "/etc/felhom-agent/agent.json";

describe.skipIf(noVisudo)("fresh install under --root", () => {
  test("puts every file in place with its mode", async () => {
    const { root, rel } = await installed();
    expect(await readFile(join(root, versionBin("1.0.0")), "utf8")).toBe(rel.content);
    // The service runs the `current` link; the command on PATH is a link to the same binary.
    expect(await linkOf(root, `${STATE}/current`)).toBe("versions/1.0.0");
    expect(await linkOf(root, BIN)).toBe(`${STATE}/current/felhom-agent`);
    expect(await lstat(join(root, `${STATE}/previous`)).catch(() => undefined)).toBeUndefined();
    const modes: [string, number][] = [
      [versionBin("1.0.0"), 0o700],
      [`${STATE}/versions`, 0o700],
      [`${STATE}/versions/1.0.0`, 0o700],
      ["/usr/local/lib/felhom-agent", 0o755],
      [PRIV_DIR, 0o755],
      ...WRAPPERS.map((w): [string, number] => [`${PRIV_DIR}/${w}`, 0o755]),
      [SUDOERS, 0o440],
      [UNIT, 0o644],
      ["/etc/felhom-agent", 0o750],
      [CONFIG, 0o640],
      ["/var/lib/felhom-agent", 0o700],
    ];
    for (const [path, mode] of modes) {
      expect({ path, mode: (await modeOf(join(root, path))).toString(8) }).toEqual({
        path,
        mode: mode.toString(8),
      });
    }
    const all = Object.keys(await snapshot(root));
    expect(all.filter((p) => p.includes("felhom-new"))).toEqual([]);
  });

  test("prints the next steps: token provisioning, fingerprint, selftest", async () => {
    const { first } = await installed();
    const out = first.stdout;
    expect(out).toContain("felhom-agent installed:");
    expect(out).toContain("pveum user token add felhom-agent@pve agent --privsep 1");
    expect(out).toContain("pveum acl modify / -user  'felhom-agent@pve'       -role FelhomAgent");
    expect(out).toContain("pveum acl modify / -token 'felhom-agent@pve!agent' -role FelhomAgent");
    expect(out).toContain("Datastore.Audit Sys.Audit SDN.Use");
    expect(out).toContain("felhom-agent fingerprint --endpoint https://127.0.0.1:8006");
    expect(out).toContain("pvenode cert info");
    expect(out).toContain("sudo -u felhom-agent felhom-agent --selftest");
    expect(out).toContain("skipped    user felhom-agent: not created under --root");
    expect(out).toContain("skipped    systemctl (under --root)");
  });

  test("writes a starting config that points at the token file and leaves trust to the operator", async () => {
    const { root } = await installed();
    const cfg = JSON.parse(await readFile(join(root, CONFIG), "utf8"));
    expect(cfg).toEqual({
      proxmox: {
        endpoint: "https://127.0.0.1:8006",
        node: expect.stringMatching(/^[A-Za-z0-9-]+$/),
        token_file: "/etc/felhom-agent/proxmox-token",
      },
      privileged: { mode: "sudo", sudo_path: "/usr/bin/sudo" },
      state_dir: "/var/lib/felhom-agent",
      log: { level: "info" },
    });
  });

  test("takes the node name from DIR/etc/hostname", async () => {
    const base = await tmp.make();
    const root = join(base, "root");
    await mkdir(join(root, "etc"), { recursive: true });
    await writeFile(join(root, "etc/hostname"), "pve-box7.example.lan\n");
    const rel = await makeRelease(join(base, "rel"), "1.0.0");
    expect(runInstall(["--root", root, "--binary", rel.binary]).code).toBe(0);
    expect(JSON.parse(await readFile(join(root, CONFIG), "utf8")).proxmox.node).toBe("pve-box7");
  });

  test("owns files by the service user when DIR/etc/passwd has it", async () => {
    if (!isRoot) return void console.warn("skipped: chown needs root");
    const base = await tmp.make();
    const root = join(base, "root");
    await mkdir(join(root, "etc"), { recursive: true });
    await writeFile(
      join(root, "etc/passwd"),
      "root:x:0:0:root:/root:/bin/sh\nfelhom-agent:x:4242:4243::/nonexistent:/usr/sbin/nologin\n",
    );
    await writeFile(join(root, "etc/group"), "root:x:0:\nfelhom-agent:x:4243:\n");
    const rel = await makeRelease(join(base, "rel"), "1.0.0");
    const r = runInstall(["--root", root, "--binary", rel.binary]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("unchanged  user felhom-agent");
    const state = await stat(join(root, "var/lib/felhom-agent"));
    expect([state.uid, state.gid]).toEqual([4242, 4243]);
    const conf = await stat(join(root, "etc/felhom-agent"));
    expect([conf.uid, conf.gid]).toEqual([0, 4243]);
    const cfg = await stat(join(root, CONFIG));
    expect([cfg.uid, cfg.gid]).toEqual([0, 4243]);
    for (const p of [SUDOERS, UNIT, `${PRIV_DIR}/pct`]) {
      expect((await stat(join(root, p))).uid).toBe(0);
    }
    // The versions are the service user's: its self-update writes there.
    for (const p of [versionBin("1.0.0"), `${STATE}/versions`, `${STATE}/current`]) {
      expect((await lstat(join(root, p))).uid).toBe(4242);
    }
    expect((await lstat(join(root, BIN))).uid).toBe(0);
    // Ownership is part of "unchanged": a second run finds nothing to do.
    const again = runInstall(["--root", root, "--binary", rel.binary]);
    expect(again.stdout).toContain("nothing changed");
  });
});

describe.skipIf(noVisudo)("sudoers", () => {
  test("allows exactly the fenced commands, with fixed paths and no wildcard", async () => {
    const { root } = await installed();
    const text = await readFile(join(root, SUDOERS), "utf8");
    const lines = activeLines(text);
    const aliases = new Map<string, string[]>();
    const specs: string[] = [];
    for (const l of lines) {
      const m = /^Cmnd_Alias\s+(\w+)\s*=\s*(.+)$/.exec(l);
      if (m) aliases.set(m[1] as string, (m[2] as string).split(/\s*,\s*/));
      else specs.push(l);
    }
    expect(specs).toEqual([
      "felhom-agent ALL = (root) NOPASSWD: FELHOM_GOLDEN, FELHOM_USB, FELHOM_HW",
    ]);
    const commands = [...aliases.values()].flat().sort();
    expect(commands).toEqual(
      [...WRAPPERS.map((w) => `${PRIV_DIR}/${w}`), "/usr/bin/sensors -j"].sort(),
    );
    for (const c of commands) expect(c.startsWith("/")).toBe(true);
    for (const l of lines) {
      expect(l).not.toMatch(/[*?[\]]/);
      expect(l).not.toMatch(/^Defaults/);
    }
  });

  test("visudo -cf accepts it", async () => {
    const visudo = which("visudo");
    if (!visudo) return void console.warn("skipped: visudo not installed (Debian package sudo)");
    const { root } = await installed();
    const p = Bun.spawnSync([visudo, "-c", "-f", join(root, SUDOERS)]);
    expect(p.stderr.toString()).toBe("");
    expect(p.exitCode).toBe(0);
  });

  test("sudo grants the service user the wrappers with any arguments, and nothing else", async () => {
    const sudo = which("sudo");
    const unshare = which("unshare");
    if (!isRoot || !sudo || !unshare) {
      return void console.warn("skipped: needs root, sudo and unshare");
    }
    const { base, root } = await installed();
    // In a private mount namespace: a passwd with the service user, this sudoers as the only
    // policy, and the installed files at their real paths. The host is not touched.
    const script = `
set -eu
W=${base}/ns
mkdir -p "$W"
cp /etc/passwd "$W/passwd"; echo 'felhom-agent:x:990:990::/nonexistent:/usr/sbin/nologin' >>"$W/passwd"
cp /etc/group "$W/group"; echo 'felhom-agent:x:990:' >>"$W/group"
{ printf 'Defaults env_reset\\nroot ALL=(ALL:ALL) ALL\\n'; cat "${root}${SUDOERS}"; } >"$W/sudoers"
chmod 440 "$W/sudoers"
mount --bind "$W/passwd" /etc/passwd
mount --bind "$W/group" /etc/group
mount --bind "$W/sudoers" /etc/sudoers
mount -t tmpfs -o mode=0755 tmpfs /usr/local
cp -a "${root}/usr/local/." /usr/local/
printf '#!/bin/sh\\n' >/usr/local/lib/felhom-agent/priv/extra
chmod 755 /usr/local/lib/felhom-agent/priv/extra
check() { if sudo -n -l -U felhom-agent "$@" >/dev/null 2>&1; then echo "allow $*"; else echo "deny $*"; fi; }
check ${PRIV_DIR}/pct create 100 local:vztmpl/d.tar.zst
check ${PRIV_DIR}/smartctl -a -j /dev/sda
check ${PRIV_DIR}/tee -a /etc/fstab
check ${PRIV_DIR}/extra
check /usr/local/bin/felhom-agent run
check /bin/sh -c id
`;
    const p = Bun.spawnSync([unshare, "-m", "--propagation", "private", "/bin/sh", "-c", script]);
    if (p.exitCode !== 0 && /unshare failed|Operation not permitted/.test(p.stderr.toString())) {
      return void console.warn("skipped: mount namespaces are not permitted here");
    }
    expect(p.stderr.toString()).toBe("");
    expect(p.stdout.toString().trim().split("\n")).toEqual([
      `allow ${PRIV_DIR}/pct create 100 local:vztmpl/d.tar.zst`,
      `allow ${PRIV_DIR}/smartctl -a -j /dev/sda`,
      `allow ${PRIV_DIR}/tee -a /etc/fstab`,
      `deny ${PRIV_DIR}/extra`,
      "deny /usr/local/bin/felhom-agent run",
      "deny /bin/sh -c id",
    ]);
  });
});

// Settings that turn NoNewPrivileges on for a service with User= (systemd.exec), and those that
// give the service a private mount namespace or bound capabilities: each would break sudo or
// hide the USB mounts the root side makes.
const FORBIDDEN = [
  "NoNewPrivileges=yes",
  "NoNewPrivileges=true",
  "DynamicUser",
  "LockPersonality",
  "MemoryDenyWriteExecute",
  "PrivateDevices",
  "ProtectClock",
  "ProtectHostname",
  "ProtectKernelLogs",
  "ProtectKernelModules",
  "ProtectKernelTunables",
  "RestrictAddressFamilies",
  "RestrictNamespaces",
  "RestrictRealtime",
  "RestrictSUIDSGID",
  "SystemCallArchitectures",
  "SystemCallFilter",
  "SystemCallLog",
  "ProtectSystem",
  "ProtectHome",
  "PrivateTmp",
  "ProtectProc",
  "ReadOnlyPaths",
  "ReadWritePaths",
  "InaccessiblePaths",
  "TemporaryFileSystem",
  "BindPaths",
  "CapabilityBoundingSet",
  "PrivateUsers",
];

describe.skipIf(noVisudo)("systemd unit", () => {
  test("runs the daemon as the service user with a state directory and restart back-off", async () => {
    const { root } = await installed();
    const unit = await readFile(join(root, UNIT), "utf8");
    const lines = activeLines(unit);
    for (const want of [
      "[Unit]",
      "[Service]",
      "[Install]",
      "User=felhom-agent",
      "Group=felhom-agent",
      "ExecStart=/var/lib/felhom-agent/current/felhom-agent --config /etc/felhom-agent/agent.json run",
      "StateDirectory=felhom-agent",
      "StateDirectoryMode=0700",
      "Restart=always",
      "RestartSec=5s",
      "StartLimitIntervalSec=0",
      "NoNewPrivileges=no",
      // Bounds sized from bench/daemon-footprint.ts (README, "Resource limits").
      "MemoryMax=512M",
      "TasksMax=256",
      "LimitNOFILE=4096",
      "WantedBy=multi-user.target",
    ]) {
      expect(lines).toContain(want);
    }
    for (const bad of FORBIDDEN) {
      expect(lines.filter((l) => l.startsWith(bad))).toEqual([]);
    }
    // No start-up gate: nothing runs before the daemon (e.g. a self-test that could block it).
    expect(lines.filter((l) => /^Exec(StartPre|Condition)/.test(l))).toEqual([]);
    // The reason is written down next to the settings, for whoever wants to harden it later.
    expect(unit).toContain("NoNewPrivileges must stay off");
  });

  test("adds RestartSteps only where systemd knows it (>= 254)", async () => {
    const base = await tmp.make();
    const fake = join(base, "bin");
    await mkdir(fake);
    const rel = await makeRelease(join(base, "rel"), "1.0.0");
    for (const [version, expected] of [
      ["257 (257.9-1~deb13u1)", true],
      ["252 (252.38-1~deb12u1)", false],
    ] as const) {
      await writeFile(join(fake, "systemctl"), `#!/bin/sh\necho "systemd ${version}"\n`, {
        mode: 0o755,
      });
      const root = join(base, `root-${expected}`);
      await mkdir(root);
      const r = runInstall(["--root", root, "--binary", rel.binary], {
        PATH: `${fake}:${process.env.PATH}`,
      });
      expect(r.code).toBe(0);
      const lines = activeLines(await readFile(join(root, UNIT), "utf8"));
      expect(lines.includes("RestartSteps=10")).toBe(expected);
      expect(lines.includes("RestartMaxDelaySec=5min")).toBe(expected);
    }
  });

  test("systemd-analyze verify accepts it", async () => {
    const analyze = which("systemd-analyze");
    const unitDir = ["/usr/lib/systemd/system", "/lib/systemd/system"].find(
      (d) => Bun.spawnSync(["test", "-f", `${d}/multi-user.target`]).exitCode === 0,
    );
    if (!analyze || !unitDir) {
      return void console.warn("skipped: systemd-analyze or the system units are not here");
    }
    const { root } = await installed();
    // verify resolves the unit's dependencies inside --root: give it the stock units.
    await cp(unitDir, join(root, "usr/lib/systemd/system"), { recursive: true });
    const p = Bun.spawnSync([analyze, "verify", `--root=${root}`, "felhom-agent.service"]);
    expect(p.stderr.toString()).toBe("");
    expect(p.exitCode).toBe(0);
  });
});

describe.skipIf(noVisudo)("re-runs and upgrades", () => {
  test("a second run with the same binary changes nothing", async () => {
    const { root, rel } = await installed();
    const before = await snapshot(root);
    const r = runInstall(["--root", root, "--binary", rel.binary]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("felhom-agent is up to date: nothing changed.");
    expect(r.stdout).not.toMatch(/^(install|replace) /m);
    expect(await snapshot(root)).toEqual(before);
  });

  test("a new release is added beside the old one once its checksum verifies; current and previous move", async () => {
    const { base, root } = await installed("1.0.0");
    const before = await snapshot(root);
    const v2 = await makeRelease(join(base, "rel-2"), "2.0.0");
    const r = runInstall(["--root", root, "--binary", v2.binary]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^verified {3}felhom-agent sha256 [0-9a-f]{64}$/m);
    expect(r.stdout).toContain("version    2.0.0");
    expect(r.stdout).toContain(`install    ${versionBin("2.0.0")}`);
    expect(r.stdout).toContain(`link       ${STATE}/previous -> versions/1.0.0`);
    expect(r.stdout).toContain(`link       ${STATE}/current -> versions/2.0.0`);
    expect(r.stdout).toContain("felhom-agent installed: 4 change(s).");
    expect(await readFile(join(root, versionBin("2.0.0")), "utf8")).toBe(v2.content);
    expect(await linkOf(root, BIN)).toBe(`${STATE}/current/felhom-agent`);
    const after = await snapshot(root);
    const moved = Object.keys(after).filter(
      (k) => JSON.stringify(after[k]) !== JSON.stringify(before[k]),
    );
    // The new version and the two links (and the directories whose entries changed).
    expect(moved.sort()).toEqual(
      [
        STATE,
        `${STATE}/current`,
        `${STATE}/previous`,
        `${STATE}/versions`,
        `${STATE}/versions/2.0.0`,
        versionBin("2.0.0"),
      ].sort(),
    );
  });

  test("a third release keeps exactly two versions, the layout the agent's self-update keeps", async () => {
    const { base, root } = await installed("1.0.0");
    for (const v of ["2.0.0", "3.0.0"]) {
      const rel = await makeRelease(join(base, `rel-${v}`), v);
      expect(runInstall(["--root", root, "--binary", rel.binary]).code).toBe(0);
    }
    expect((await readdir(join(root, `${STATE}/versions`))).sort()).toEqual(["2.0.0", "3.0.0"]);
    expect(await linkOf(root, `${STATE}/current`)).toBe("versions/3.0.0");
    expect(await linkOf(root, `${STATE}/previous`)).toBe("versions/2.0.0");
  });

  test("an older release than the installed one is refused without --allow-downgrade, nothing changed", async () => {
    const { base, root } = await installed("2.0.0");
    const v1 = await makeRelease(join(base, "rel-1"), "1.0.0");
    const before = await snapshot(root);
    const r = runInstall(["--root", root, "--binary", v1.binary]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("1.0.0 is older than the installed 2.0.0; nothing was changed");
    expect(r.stderr).toContain("--allow-downgrade");
    expect(await snapshot(root)).toEqual(before);
    // A prerelease of the installed version is older too; the same version is not.
    const rc = await makeRelease(join(base, "rel-rc"), "2.0.0-rc.1");
    expect(runInstall(["--root", root, "--binary", rc.binary]).code).toBe(1);
    const dry = runInstall(["--root", root, "--binary", v1.binary, "--dry-run"]);
    expect(dry.code).toBe(1);
    expect(await snapshot(root)).toEqual(before);
  });

  test("with --allow-downgrade the older release is installed, warned, and the newer one kept as previous", async () => {
    const { base, root } = await installed("2.0.0");
    const v1 = await makeRelease(join(base, "rel-1"), "1.0.0");
    const r = runInstall(["--root", root, "--binary", v1.binary, "--allow-downgrade"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("installing 1.0.0 over the newer 2.0.0 (--allow-downgrade)");
    expect(await linkOf(root, `${STATE}/current`)).toBe("versions/1.0.0");
    expect(await linkOf(root, `${STATE}/previous`)).toBe("versions/2.0.0");
    // Upgrading needs no flag; the flag does not go with --uninstall.
    const v3 = await makeRelease(join(base, "rel-3"), "3.0.0");
    expect(runInstall(["--root", root, "--binary", v3.binary]).code).toBe(0);
    const u = runInstall(["--root", root, "--uninstall", "--allow-downgrade"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("--allow-downgrade goes with an install");
  });

  test("an install made before the versions layout (a plain file on PATH) moves into it", async () => {
    const { base, root, rel } = await installed("1.0.0");
    // What earlier installers left: the binary itself at /usr/local/bin, nothing under versions/.
    await rm(join(root, BIN));
    await cp(rel.binary, join(root, BIN));
    await rm(join(root, STATE, "versions"), { recursive: true });
    await rm(join(root, STATE, "current"));
    const v2 = await makeRelease(join(base, "rel-2"), "2.0.0");
    const r = runInstall(["--root", root, "--binary", v2.binary]);
    expect(r.code).toBe(0);
    expect(await linkOf(root, BIN)).toBe(`${STATE}/current/felhom-agent`);
    expect(await linkOf(root, `${STATE}/current`)).toBe("versions/2.0.0");
  });

  test("a binary that reports no version is refused before anything changes", async () => {
    const { base, root } = await installed("1.0.0");
    const odd = await makeRelease(join(base, "rel-odd"), "not-a-version");
    const before = await snapshot(root);
    const r = runInstall(["--root", root, "--binary", odd.binary]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("does not report a version");
    expect(await snapshot(root)).toEqual(before);
  });

  test("a corrupted binary is refused and the installed one is untouched", async () => {
    const { base, root } = await installed("1.0.0");
    const v2 = await makeRelease(join(base, "rel-2"), "2.0.0");
    await writeFile(v2.binary, "#!/bin/sh\necho tampered\n");
    const before = await snapshot(root);
    const r = runInstall(["--root", root, "--binary", v2.binary]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("SHA-256 mismatch for felhom-agent");
    expect(r.stderr).toContain("nothing was changed");
    expect(r.stdout).not.toMatch(/^(install|replace|directory) /m);
    expect(await snapshot(root)).toEqual(before);
  });

  test("a corrupted binary on a fresh root leaves the root empty", async () => {
    const base = await tmp.make();
    const root = join(base, "root");
    await mkdir(root);
    const rel = await makeRelease(join(base, "rel"), "1.0.0");
    await writeFile(rel.binary, "garbage");
    const r = runInstall(["--root", root, "--binary", rel.binary]);
    expect(r.code).toBe(1);
    expect(await snapshot(root)).toEqual({});
  });

  test.each([
    ["no line for the binary", (sums: string) => sums.replace("felhom-agent", "other-name")],
    ["a repeated line", (sums: string) => sums + sums],
    ["a short hash", (sums: string) => sums.replace(/^[0-9a-f]{8}/, "")],
  ])("sums with %s are refused", async (_what, mangle) => {
    const { base, root } = await installed("1.0.0");
    const v2 = await makeRelease(join(base, "rel-2"), "2.0.0");
    await writeFile(v2.sums, mangle(await readFile(v2.sums, "utf8")));
    const before = await snapshot(root);
    const r = runInstall(["--root", root, "--binary", v2.binary]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("nothing was changed");
    expect(await snapshot(root)).toEqual(before);
  });

  test("a binary without any sums file is refused", async () => {
    const { base, root } = await installed("1.0.0");
    const v2 = await makeRelease(join(base, "rel-2"), "2.0.0");
    await Bun.write(v2.sums, "");
    const lone = join(base, "lone");
    await mkdir(lone);
    await cp(v2.binary, join(lone, "felhom-agent"));
    const r = runInstall(["--root", root, "--binary", join(lone, "felhom-agent")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no checksum file");
  });

  test("--sums FILE is used instead of the one next to the binary", async () => {
    const { base, root } = await installed("1.0.0");
    const v2 = await makeRelease(join(base, "rel-2"), "2.0.0");
    const lone = join(base, "lone");
    await mkdir(lone);
    await cp(v2.binary, join(lone, "felhom-agent"));
    const r = runInstall([
      "--root",
      root,
      "--binary",
      join(lone, "felhom-agent"),
      "--sums",
      v2.sums,
    ]);
    expect(r.code).toBe(0);
    expect(await readFile(join(root, versionBin("2.0.0")), "utf8")).toBe(v2.content);
  });

  test("the operator's config is kept on every re-run", async () => {
    const { root, rel } = await installed();
    const mine = '{"proxmox":{"endpoint":"https://10.0.0.2:8006"}}\n';
    await writeFile(join(root, CONFIG), mine);
    const r = runInstall(["--root", root, "--binary", rel.binary]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("kept       /etc/felhom-agent/agent.json (exists)");
    expect(await readFile(join(root, CONFIG), "utf8")).toBe(mine);
  });

  test("a wrapper edited by hand is put back", async () => {
    const { root, rel } = await installed();
    const path = join(root, PRIV_DIR, "smartctl");
    const original = await readFile(path, "utf8");
    await writeFile(path, '#!/bin/sh\nexec /usr/sbin/smartctl "$@"\n');
    const r = runInstall(["--root", root, "--binary", rel.binary]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`replace    ${PRIV_DIR}/smartctl`);
    expect(await readFile(path, "utf8")).toBe(original);
  });
});

describe.skipIf(noVisudo)("--dry-run", () => {
  test("on a fresh root: lists every action and creates nothing", async () => {
    const base = await tmp.make();
    const root = join(base, "root");
    await mkdir(root);
    const rel = await makeRelease(join(base, "rel"), "1.0.0");
    const r = runInstall(["--root", root, "--binary", rel.binary, "--dry-run"]);
    expect(r.code).toBe(0);
    for (const p of [
      versionBin("1.0.0"),
      SUDOERS,
      UNIT,
      CONFIG,
      ...WRAPPERS.map((w) => `${PRIV_DIR}/${w}`),
    ]) {
      expect(r.stdout).toContain(`would install ${p}`);
    }
    expect(r.stdout).toContain(`would link ${STATE}/current -> versions/1.0.0`);
    expect(r.stdout).toContain(`would link ${BIN} -> ${STATE}/current/felhom-agent`);
    expect(r.stdout).toContain("would create or fix /var/lib/felhom-agent/ (mode 700");
    expect(r.stdout).toContain("dry run: 18 change(s) listed above; nothing was changed.");
    expect(await snapshot(root)).toEqual({});
  });

  test("before an upgrade: says what would be replaced and changes nothing", async () => {
    const { base, root } = await installed("1.0.0");
    const v2 = await makeRelease(join(base, "rel-2"), "2.0.0");
    const before = await snapshot(root);
    const r = runInstall(["--root", root, "--binary", v2.binary, "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`would install ${versionBin("2.0.0")}`);
    expect(r.stdout).toContain(`would link ${STATE}/previous -> versions/1.0.0`);
    expect(r.stdout).toContain(`would link ${STATE}/current -> versions/2.0.0`);
    expect(r.stdout).toContain("dry run: 4 change(s) listed above");
    expect(await snapshot(root)).toEqual(before);
  });
});

describe.skipIf(noVisudo)("--uninstall", () => {
  test("removes what was installed and keeps configuration and state", async () => {
    const { root } = await installed();
    await writeFile(join(root, "var/lib/felhom-agent/agent.db"), "state");
    const r = runInstall(["--root", root, "--uninstall"]);
    expect(r.code).toBe(0);
    for (const p of [BIN, SUDOERS, UNIT, PRIV_DIR, "/usr/local/lib/felhom-agent"]) {
      expect(await Bun.file(join(root, p)).exists()).toBe(false);
      expect(r.stdout).toContain(`remove     ${p}`);
    }
    const left = Object.keys(await snapshot(root));
    expect(left).toContain(CONFIG);
    expect(left).toContain("/var/lib/felhom-agent/agent.db");
    expect(
      left.filter(
        (p) => p.includes("felhom") && !/^\/(etc\/felhom-agent|var\/lib\/felhom-agent)/.test(p),
      ),
    ).toEqual([]);
    expect(r.stdout).toContain("kept       /etc/felhom-agent and /var/lib/felhom-agent");

    const again = runInstall(["--root", root, "--uninstall"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`absent     ${BIN}`);
  });

  test("--purge also removes configuration and state", async () => {
    const { root } = await installed();
    const r = runInstall(["--root", root, "--uninstall", "--purge"]);
    expect(r.code).toBe(0);
    const left = Object.keys(await snapshot(root));
    expect(left.filter((p) => p.includes("felhom"))).toEqual([]);
  });

  test("--dry-run lists the removals and removes nothing", async () => {
    const { root } = await installed();
    const before = await snapshot(root);
    const r = runInstall(["--root", root, "--uninstall", "--purge", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`would remove ${BIN}`);
    expect(r.stdout).toContain("would remove /var/lib/felhom-agent");
    expect(await snapshot(root)).toEqual(before);
  });
});

describe("usage", () => {
  test.each([
    [[], "give the binary to install"],
    [["--binary", "a", "--url", "https://x/"], "either --binary or --url"],
    [["--binary", "a", "--purge"], "--purge only goes with --uninstall"],
    [["--uninstall", "--binary", "a"], "--uninstall takes no"],
    [["--root", "relative/dir", "--uninstall"], "--root must be an absolute path"],
    [["--root", "/nonexistent-felhom-root", "--uninstall"], "is not a directory"],
    [["--binary"], "--binary needs a value"],
    [["--frobnicate"], "unknown option: --frobnicate"],
  ])("%j is a usage error (exit 2)", (args, message) => {
    const r = runInstall(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message as string);
    expect(r.stdout).toBe("");
  });

  test("--help prints the options", () => {
    const r = runInstall(["--help"]);
    expect(r.code).toBe(0);
    for (const opt of [
      "--binary",
      "--url",
      "--sums",
      "--uninstall",
      "--purge",
      "--dry-run",
      "--root",
    ]) {
      expect(r.stdout).toContain(opt);
    }
  });
});

describe("shell quality", () => {
  // The wrappers are read from an install, which needs visudo to check its sudoers file.
  test.skipIf(noVisudo)(
    "install.sh and the wrappers it writes are shellcheck clean (POSIX sh)",
    async () => {
      const shellcheck = which("shellcheck");
      if (!shellcheck) return void console.warn("skipped: shellcheck not installed");
      const { root } = await installed();
      const files = [INSTALL_SH, ...WRAPPERS.map((w) => join(root, PRIV_DIR, w))];
      const p = Bun.spawnSync([shellcheck, "--shell=sh", "--severity=style", ...files]);
      expect(p.stdout.toString()).toBe("");
      expect(p.exitCode).toBe(0);
    },
  );

  test("all the work is in functions and main runs on the last line", async () => {
    const text = await readFile(INSTALL_SH, "utf8");
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toBe("#!/bin/sh");
    expect(lines).toContain("set -eu");
    expect(lines[lines.length - 1]).toBe('main "$@"');
  });
});
