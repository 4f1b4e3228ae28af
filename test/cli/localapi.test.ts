import { afterEach, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { EXIT_OK, EXIT_USAGE, UsageError } from "../../src/cli/context.ts";
import { runLocalApi } from "../../src/cli/localapi.ts";
import { pemFingerprint, pemSpkiPin } from "../../src/tls/fingerprint.ts";
import { CliTemp } from "../localapi/cli-temp.ts";

let t: CliTemp | undefined;
afterEach(() => {
  t?.cleanup();
  t = undefined;
});

test("pins --json creates the certificate once and prints both pins", async () => {
  t = new CliTemp();
  expect(await runLocalApi(["pins", "--json"], t.ctx())).toBe(EXIT_OK);
  const pins = JSON.parse(t.out) as { leaf_sha256: string; spki_sha256: string };
  expect(Object.keys(pins)).toEqual(["leaf_sha256", "spki_sha256"]);
  expect(t.err).toContain("created");
  const file = join(t.stateDir, "local-api-tls.pem");
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const pem = await Bun.file(file).text();
  expect(pins.leaf_sha256).toBe(pemFingerprint(pem));
  expect(pins.spki_sha256).toBe(pemSpkiPin(pem));
  const first = t.out;
  expect(await runLocalApi(["pins", "--json"], t.ctx())).toBe(EXIT_OK);
  expect(t.out).toBe(first);
  expect(t.err).toBe("");
});

test("without local_api.listen the bridge's address is used (and named in the certificate)", async () => {
  t = new CliTemp({}, false);
  const ctx = {
    ...t.ctx(),
    deps: {
      interfaces: () => ({ vmbr0: [{ address: "10.0.0.5", family: "IPv4", internal: false }] }),
    },
  };
  expect(await runLocalApi(["pins"], ctx)).toBe(EXIT_OK);
  expect(t.out).toMatch(/^leaf_sha256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\nspki_sha256 sha256\/\/\S+\n$/);
  const { X509Certificate } = await import("node:crypto");
  const pem = await Bun.file(join(t.stateDir, "local-api-tls.pem")).text();
  expect(new X509Certificate(pem).checkIP("10.0.0.5")).toBe("10.0.0.5");
});

test("no listen address and no bridge address: exit 2 saying what to set", async () => {
  t = new CliTemp({}, false);
  const ctx = { ...t.ctx(), deps: { interfaces: () => ({}) } };
  expect(await runLocalApi(["pins"], ctx)).toBe(EXIT_USAGE);
  expect(t.err).toContain("local_api.listen is not set and interface vmbr0 has no address");
});

test("a wildcard listen address is a config error unless allowed", async () => {
  t = new CliTemp({ listen: "0.0.0.0" });
  expect(await runLocalApi(["pins"], t.ctx())).toBe(EXIT_USAGE);
  expect(t.err).toMatch(/local_api\.listen.*every interface of the host/);
  t.cleanup();
  t = new CliTemp({ listen: "0.0.0.0", allow_wildcard: true });
  expect(await runLocalApi(["pins", "--json"], t.ctx())).toBe(EXIT_OK);
  expect(t.err).toContain("wildcard bind");
});

test("usage errors", async () => {
  t = new CliTemp();
  await expect(runLocalApi(["pins", "--bogus"], t.ctx())).rejects.toBeInstanceOf(UsageError);
  await expect(runLocalApi(["serve"], t.ctx())).rejects.toBeInstanceOf(UsageError);
  await expect(runLocalApi([], t.ctx())).rejects.toThrow("missing subcommand; one of: pins");
});
