import { GOLDEN_ARCHIVE } from "../../sim/pve/index.ts";
import type { DemoEnv, DemoStep } from "../types.ts";
import { type Checklist, checklist } from "./checklist.ts";
import {
  addSignedJob,
  asController,
  asGuest,
  GUEST,
  hubResult,
  type Live,
  need,
  opId,
  settle,
  until,
  withAgentStore,
} from "./live-agent.ts";

/** The vmid the hub tries to provision into; free in the simulator's seed. */
const NEW_GUEST = 150;

/**
 * A hub that has been taken over tries, without an operator's signature, each way to customer
 * data the gate closes (src/gate/README.md): a backup that prunes older ones, a new guest made
 * from another guest's backup or privileged, and a token outliving the guest it was minted for.
 * `live` is read when the step runs: the first daemon step starts the agent.
 */
export function compromisedHubStep(live: () => Live | undefined): DemoStep {
  return {
    title:
      "A compromised hub, unsigned, cannot prune backups, copy a guest's data or outlive a guest",
    async run(env) {
      const l = need(live());
      const list = checklist(env.io.out);
      const { archive, dumpsBefore } = await pruningHeld(env, l, list);
      // The provisioning attempts go to the hub now: the daemon takes them while the
      // controller's backup runs, which keeps the demo short.
      await queueCopyAndGolden(env, l, archive);
      await backupKeepsOlder(env, l, list, dumpsBefore);
      await provisionHeld(env, l, list);
      await tokenDiesWithGuest(env, l, list);
      return {
        behaved: list.failed.length === 0,
        note:
          list.failed.length === 0
            ? "pruning, copying and privileged provisioning held for a signature; the destroyed guest's token and signature dead"
            : `failed: ${list.failed.join("; ")}`,
      };
    },
  };
}

/**
 * (1) With the storage set to keep one backup, a hub job asking vzdump to prune is held; a plain
 * one runs. vzdump prunes by the storage's retention unless told not to
 * (docs/proxmox-behaviour.md#vzdump-remove). Returns the archive of guest 101 the hub's backup
 * made, and the vzdump tasks on it before.
 */
async function pruningHeld(
  env: DemoEnv,
  l: Live,
  list: Checklist,
): Promise<{ archive: string; dumpsBefore: number }> {
  const dumpsBefore = vzdumpsOf(env, GUEST);
  await setRetention(env, "keep-last=1");
  env.io.out("    storage 'local' set to prune-backups keep-last=1 (as `pvesm set` would)\n");
  l.hub.addJob(
    { id: "job-nightly", op: "guest.backup", vmid: GUEST, params: { storage: "local" } },
    l.identity.host_id,
  );
  l.hub.addJob(
    {
      id: "job-prune",
      op: "guest.backup",
      vmid: GUEST,
      params: { storage: "local", remove: true },
    },
    l.identity.host_id,
  );
  const nightly = await hubResult(l, "job-nightly", "ok");
  const archive = String((nightly.result as { archive?: unknown } | undefined)?.archive);
  env.io.out(`    hub job job-nightly: guest.backup ${GUEST} -> ok, ${archive}\n`);
  const prune = await hubResult(l, "job-prune", "pending_signature");
  list.check(
    `hub job job-prune: guest.backup ${GUEST} with remove: true -> pending_signature (${prune.reason})`,
    String(prune.reason).includes("prunes older backups"),
  );
  return { archive, dumpsBefore };
}

/** (1) The agent's own backups add a copy and keep the older ones, whatever the retention. */
async function backupKeepsOlder(
  env: DemoEnv,
  l: Live,
  list: Checklist,
  dumpsBefore: number,
): Promise<void> {
  const before = archivesOf(env, GUEST);
  // Archive names have a one-second resolution, as PVE's do: the next backup must end in a
  // later second to be a second archive rather than the same name again.
  const newest = Math.max(...[...before.values()]);
  await until("a new second for the next archive name", () => Date.now() / 1000 >= newest + 1);
  const post = await asGuest(l, "POST", "/v1/self/backups", {});
  const done = post.status === 202 ? await settle(l, opId(post.body)) : post.body;
  const after = archivesOf(env, GUEST);
  const kept = [...before.keys()].every((v) => after.has(v));
  list.check(
    `POST /v1/self/backups -> ${post.status}, ${String(done.state)}; guest ${GUEST}'s archives on local: ${before.size} -> ${after.size}, ${kept ? "none removed" : "OLDER ONES REMOVED"}`,
    done.state === "done" && before.size >= 1 && after.size === before.size + 1 && kept,
  );
  const dumps = vzdumpsOf(env, GUEST) - dumpsBefore;
  list.check(
    `vzdump tasks on ${GUEST} since: ${dumps} (the hub's nightly and the controller's; none for job-prune)`,
    dumps === 2,
  );
  await setRetention(env, "keep-all=1");
}

const AT = { storage: "local-lvm", hostname: "new-guest" };

/** (2) The hub tries to copy guest 101's backup into a new guest; the operator registers a golden image. */
async function queueCopyAndGolden(env: DemoEnv, l: Live, customerArchive: string): Promise<void> {
  l.hub.addJob(
    {
      id: "job-copy",
      op: "guest.provision",
      vmid: NEW_GUEST,
      params: { archive: customerArchive, ...AT },
    },
    l.identity.host_id,
  );
  await addSignedJob(env, l, {
    id: "job-golden",
    op: "golden.register",
    params: { volid: GOLDEN_ARCHIVE },
  });
}

/**
 * (2) A new guest is benign only as an unprivileged copy of a golden image the agent knows;
 * another guest's backup or a privileged container waits for a signature.
 */
async function provisionHeld(env: DemoEnv, l: Live, list: Checklist): Promise<void> {
  const copy = await hubResult(l, "job-copy", "pending_signature");
  list.check(
    `hub job job-copy: guest.provision ${NEW_GUEST} from guest ${GUEST}'s backup -> pending_signature (${copy.reason})`,
    String(copy.reason).includes("golden image"),
  );
  await hubResult(l, "job-golden", "ok");
  env.io.out(`    the operator registers ${GOLDEN_ARCHIVE} as the golden image (signed) -> ok\n`);
  l.hub.addJob(
    {
      id: "job-priv",
      op: "guest.provision",
      vmid: NEW_GUEST,
      params: { archive: GOLDEN_ARCHIVE, ...AT, unprivileged: false },
    },
    l.identity.host_id,
  );
  l.hub.addJob(
    {
      id: "job-new",
      op: "guest.provision",
      vmid: NEW_GUEST,
      // The guest's address is the demo's loopback, so its controller stand-in's requests
      // come from it (the agent checks them against the guest's interfaces).
      params: {
        archive: GOLDEN_ARCHIVE,
        ...AT,
        net: { net0: "name=eth0,bridge=vmbr0,ip=127.0.0.1/8" },
      },
    },
    l.identity.host_id,
  );
  const priv = await hubResult(l, "job-priv", "pending_signature");
  list.check(
    `hub job job-priv: guest.provision from the golden image, unprivileged: false -> pending_signature (${priv.reason})`,
    String(priv.reason).includes("privileged"),
  );
  await hubResult(l, "job-new", "ok");
  const guest = env.sim.state.guest(NEW_GUEST);
  list.check(
    `hub job job-new: guest.provision ${NEW_GUEST} from the golden image -> ok, unprivileged=${String(guest?.config.unprivileged)}; restores run at ${NEW_GUEST}: ${restoresAt(env, NEW_GUEST)}`,
    guest?.config.unprivileged === 1 && restoresAt(env, NEW_GUEST) === 1,
  );
}

/**
 * (3) A local-API token is bound to the guest's identity: the destroy that ends the guest ends
 * the token, and a signature made for that guest does not act on the next one at its vmid
 * (src/gate/README.md#guest-identity-binding).
 */
async function tokenDiesWithGuest(env: DemoEnv, l: Live, list: Checklist): Promise<void> {
  const minted = await onboard(env, l, list);
  const alive = await asController(l, minted.token, "GET", "/v1/self");
  const uid = minted.guestUid;
  await addSignedJob(env, l, {
    id: "job-destroy",
    op: "guest.destroy",
    guest: { vmid: NEW_GUEST, uid },
    // The new guest runs (its provisioning started it); PVE destroys a running CT only forced.
    params: { force: true },
  });
  await hubResult(l, "job-destroy", "ok");
  const dead = await asController(l, minted.token, "GET", "/v1/self");
  list.check(
    `signed guest.destroy ${NEW_GUEST} -> ok; its token: GET /v1/self -> ${dead.status}`,
    alive.status === 200 && dead.status === 401 && env.sim.state.guest(NEW_GUEST) === undefined,
  );

  l.hub.addJob(
    {
      id: "job-next",
      op: "guest.provision",
      vmid: NEW_GUEST,
      params: { archive: GOLDEN_ARCHIVE, storage: "local-lvm", hostname: "next-customer" },
    },
    l.identity.host_id,
  );
  await hubResult(l, "job-next", "ok");
  const next = withAgentStore(l, (s) => s.guestIdentities.current(NEW_GUEST)?.uid);
  const still = await asController(l, minted.token, "GET", "/v1/self");
  env.io.out(
    `    hub job job-next: a new guest at ${NEW_GUEST} -> ok, a new identity; the old token -> ${still.status}\n`,
  );
  await addSignedJob(env, l, {
    id: "job-stale",
    op: "guest.destroy",
    guest: { vmid: NEW_GUEST, uid },
    params: {},
  });
  const stale = await hubResult(l, "job-stale", "rejected");
  list.check(
    `the old guest's destroy signature, replayed by the hub: job-stale -> rejected ${stale.reason}; guest ${NEW_GUEST} still there`,
    next !== undefined &&
      next !== uid &&
      still.status === 401 &&
      stale.reason === "binding_mismatch" &&
      env.sim.state.guest(NEW_GUEST) !== undefined,
  );
}

/** The guest's backup archives on `local`, by volid, with their creation time (epoch s). */
function archivesOf(env: DemoEnv, vmid: number): Map<string, number> {
  const volumes = env.sim.state.storage("local")?.volumes.values() ?? [];
  return new Map(
    [...volumes]
      .filter((v) => v.content === "backup" && v.vmid === vmid)
      .map((v) => [v.volid, v.ctime]),
  );
}

function vzdumpsOf(env: DemoEnv, vmid: number): number {
  return env.sim.state
    .tasks()
    .filter((t) => t.parts.type === "vzdump" && t.parts.id === String(vmid)).length;
}

function restoresAt(env: DemoEnv, vmid: number): number {
  return env.sim.state
    .tasks()
    .filter((t) => t.parts.type === "vzrestore" && t.parts.id === String(vmid)).length;
}

/** Sets the `local` storage's retention as an administrator would, through the API as root. */
async function setRetention(env: DemoEnv, value: string): Promise<void> {
  const res = await fetch(`${env.sim.endpoint}/api2/json/storage/local`, {
    method: "PUT",
    headers: {
      authorization: `PVEAPIToken=${env.sim.tokens.root}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ "prune-backups": value }).toString(),
    tls: { ca: env.sim.certPem },
  });
  await res.text();
  if (!res.ok) throw new Error(`PUT /storage/local prune-backups=${value}: HTTP ${res.status}`);
}

/**
 * The new guest's onboarding, as its controller sees it: the daemon started the guest with a
 * one-time code in its `env`; the controller stand-in reads it (what PID 1's environment
 * holds), trades it over pinned HTTPS for its token, takes its first snapshot with it, and the
 * agent removes `env` (docs/architecture.md#provisioning-constraints).
 */
async function onboard(
  env: DemoEnv,
  l: Live,
  list: Checklist,
): Promise<{ token: string; guestUid: string }> {
  const code = await until(`guest ${NEW_GUEST} started with its bootstrap code`, () => {
    const g = env.sim.state.guest(NEW_GUEST);
    const item = String(g?.config.env ?? "")
      .split(/\0+/)
      .find((i) => i.startsWith("FELHOM_BOOTSTRAP="));
    return g?.running && item ? item.slice("FELHOM_BOOTSTRAP=".length) : undefined;
  });
  const grant = await asController(l, "-", "POST", "/v1/bootstrap", { code });
  const again = await asController(l, "-", "POST", "/v1/bootstrap", { code });
  const token = String(grant.body.token);
  const snap = await asController(l, token, "POST", "/v1/self/snapshots", { name: "first" });
  const id = snap.status === 202 ? opId(snap.body) : "";
  const done = await until(
    `guest ${NEW_GUEST}'s first snapshot`,
    async () => {
      const r = await asController(l, token, "GET", `/v1/self/operations/${id}`);
      return r.body.state === "done" || r.body.state === "failed" ? r.body.state : undefined;
    },
    250,
  );
  const envGone = await until("env removed after the trade", () =>
    withAgentStore(l, (s) => s.bootstrapCodes.latest(NEW_GUEST)?.step) === "env_removed"
      ? true
      : undefined,
  );
  list.check(
    `guest ${NEW_GUEST} booted with a one-time code in env; POST /v1/bootstrap -> ${grant.status} (its token, pins, hub URL), again -> ${again.status}; first snapshot through the local API -> ${String(done)}; env removed`,
    grant.status === 200 && again.status === 401 && done === "done" && envGone,
  );
  return { token, guestUid: String(grant.body.guest_uid) };
}
