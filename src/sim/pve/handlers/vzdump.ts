import type { RequestContext } from "../context.ts";
import { boolParam, strParam } from "../context.ts";
import { fail } from "../errors.ts";
import type { CtGuest } from "../state.ts";
import { copyConfig, lockMessage, splitList } from "./common.ts";

const EXT: Record<string, string> = {
  "0": "tar",
  gzip: "tar.gz",
  "1": "tar.lzo",
  lzo: "tar.lzo",
  zstd: "tar.zst",
};

function stamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}-${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
}

/**
 * POST /nodes/{node}/vzdump: VM.Backup on each guest and Datastore.AllocateSpace on the target
 * storage (FACTS-provisioning 4); a `vzdump` task whose id is the vmid for a single guest and
 * empty otherwise (FACTS B.1). The archive appears in the storage content when the task ends.
 */
export function vzdump(ctx: RequestContext): string {
  const { core } = ctx;
  const storageId = strParam(ctx, "storage") ?? "local";
  const vmids = boolParam(ctx, "all")
    ? [...core.state.guests.keys()]
    : splitList(ctx.params.vmid).map((v) => Number.parseInt(v, 10));
  if (vmids.length === 0) throw fail("No VMID specified, use --all or --vmid");
  for (const vmid of vmids) core.access.check(ctx.who, `/vms/${vmid}`, ["VM.Backup"]);
  core.access.check(ctx.who, `/storage/${storageId}`, ["Datastore.AllocateSpace"]);
  const storage = core.state.storages.get(storageId);
  if (storage === undefined) throw fail(`storage '${storageId}' does not exist`);
  if (!storage.content.includes("backup")) {
    throw fail(`storage '${storageId}' does not support backups`);
  }
  const compress = strParam(ctx, "compress") ?? "0";
  const ext = EXT[compress] ?? "tar";
  const notesTemplate = strParam(ctx, "notes-template");
  const isProtected = boolParam(ctx, "protected");
  const mode = strParam(ctx, "mode") ?? "snapshot";
  return core.tasks.spawn({
    type: "vzdump",
    id: vmids.length === 1 ? String(vmids[0]) : "",
    principal: ctx.who,
    work: (log) => {
      const jobs: CtGuest[] = [];
      let errors = 0;
      for (const vmid of vmids) {
        const g = core.state.guests.get(vmid);
        if (g === undefined) {
          log.line(`ERROR: Backup of VM ${vmid} failed - unable to find VM '${vmid}'`);
          errors++;
          continue;
        }
        const locked = lockMessage(g);
        if (locked !== undefined) {
          log.line(`ERROR: Backup of VM ${vmid} failed - ${locked}`);
          errors++;
          continue;
        }
        log.line(`INFO: Starting Backup of VM ${vmid} (lxc)`);
        log.line(`INFO: Backup mode: ${mode}`);
        g.config.lock = "backup";
        jobs.push(g);
      }
      core.state.touch();
      if (jobs.length === 0) throw new Error("job errors");
      return {
        complete: (done) => {
          const now = core.clock.now();
          for (const g of jobs) {
            delete g.config.lock;
            const file = `vzdump-lxc-${g.vmid}-${stamp(now)}.${ext}`;
            const volid = `${storageId}:backup/${file}`;
            const config = copyConfig(g.config);
            const hostname =
              typeof g.config.hostname === "string" ? g.config.hostname : `CT${g.vmid}`;
            storage.volumes.set(volid, {
              volid,
              content: "backup",
              format: ext,
              size: 200_000_000 + (g.vmid % 97) * 1_000_000,
              ctime: Math.floor(now / 1000),
              vmid: g.vmid,
              ...(notesTemplate === undefined
                ? {}
                : {
                    notes: notesTemplate
                      .replaceAll("{{guestname}}", hostname)
                      .replaceAll("{{vmid}}", String(g.vmid))
                      .replaceAll("{{node}}", core.node)
                      .replaceAll("{{cluster}}", core.node),
                  }),
              ...(isProtected ? { protected: true } : {}),
              config,
            });
            done.line(`INFO: creating vzdump archive '${storage.path ?? ""}/dump/${file}'`);
            done.line(`INFO: Finished Backup of VM ${g.vmid}`);
          }
          core.state.touch();
          if (errors > 0) throw new Error("job errors");
          done.line("INFO: Backup job finished successfully");
        },
      };
    },
  }).upid;
}
