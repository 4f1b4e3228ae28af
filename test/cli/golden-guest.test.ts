import { afterEach, beforeEach, expect, test } from "bun:test";
import { EXIT_FAILURE, EXIT_OK } from "../../src/cli/context.ts";
import { runGolden } from "../../src/cli/golden.ts";
import { runGuest } from "../../src/cli/guest.ts";
import { runStatus } from "../../src/cli/status.ts";
import { defaultStorePath, openStore } from "../../src/store/open.ts";
import { CliTemp } from "../localapi/cli-temp.ts";

let t: CliTemp;
beforeEach(() => {
  t = new CliTemp();
});
afterEach(() => {
  t.cleanup();
});

const VOLID = "local:backup/vzdump-lxc-9000-2026_01_15-10_00_00.tar.zst";

test("golden list shows the registered images, as text and JSON, while the daemon holds the store", async () => {
  const daemon = openStore({ path: defaultStorePath(t.stateDir), exclusive: true });
  try {
    daemon.goldenImages.record({
      volid: VOLID,
      checksum: `sha256:${"a".repeat(64)}`,
      source: "registered",
    });
    expect(await runGolden(["list"], t.ctx())).toBe(EXIT_OK);
    expect(t.out).toContain(VOLID);
    expect(t.out).toContain("registered");
    t.out = "";
    expect(await runGolden(["list", "--json"], t.ctx())).toBe(EXIT_OK);
    expect(JSON.parse(t.out)).toMatchObject([
      {
        volid: VOLID,
        source: "registered",
        journal_id: null,
        checksum: `sha256:${"a".repeat(64)}`,
      },
    ]);
  } finally {
    daemon.close();
  }
});

test("guest provisioning lists unfinished provisionings with their step, never a code", async () => {
  const store = openStore({ path: defaultStorePath(t.stateDir), exclusive: false });
  let code: string;
  try {
    expect(await runGuest(["provisioning"], t.ctx())).toBe(EXIT_OK);
    expect(t.out).toContain("no unfinished provisioning");
    store.guestIdentities.ensure(140);
    const issued = store.bootstrapCodes.issue({ vmid: 140 });
    code = issued.code;
    store.bootstrapCodes.mark(issued.record.id, "env_set");
  } finally {
    store.close();
  }
  t.out = "";
  expect(await runGuest(["provisioning", "--json"], t.ctx())).toBe(EXIT_FAILURE);
  expect(JSON.parse(t.out)).toMatchObject([{ vmid: 140, step: "env_set" }]);
  expect(t.out).not.toContain(code);
});

test("status names unfinished provisionings", async () => {
  const store = openStore({ path: defaultStorePath(t.stateDir), exclusive: false });
  try {
    store.guestIdentities.ensure(141);
    store.bootstrapCodes.issue({ vmid: 141 });
  } finally {
    store.close();
  }
  await runStatus(["--json"], { ...t.ctx(), deps: { presented: async () => undefined as never } });
  expect(JSON.parse(t.out).store.unfinished_provisioning).toEqual([{ vmid: 141, step: "issued" }]);
});
