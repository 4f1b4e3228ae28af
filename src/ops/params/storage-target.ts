import { z } from "zod";
import { sealedSecretSchema } from "./sealed.ts";

/**
 * One backup target as the desired state declares it and as `storage.add` carries it
 * (docs/desired-state.md#storage-targets). Keyed by its PVE storage id. The durable identity
 * (`fs_uuid`; `server`+`export`; `server`+`share`+`username`; `server`+`datastore`+`fingerprint`
 * +`namespace`) is what the gate compares: a change of it is destructive.
 */
const FS_UUID =
  /^(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}|[0-9A-Fa-f]{16})$/;
const DNS_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const HOST = new RegExp(
  `^(?:${DNS_LABEL}(?:\\.${DNS_LABEL})*|\\d{1,3}(?:\\.\\d{1,3}){3}|\\[[0-9A-Fa-f:]+\\])$`,
);
// PVE's `pve-storage-path`-like export and share names; no option separators.
const EXPORT = /^\/[A-Za-z0-9_.@/-]{0,254}$/;
const SHARE = /^[A-Za-z0-9_.$-][A-Za-z0-9_.$ -]{0,79}$/;
const USERNAME = /^[A-Za-z0-9_.@-]{1,64}$/;
const PBS_USER = /^[A-Za-z0-9_.-]{1,64}@[A-Za-z0-9_.-]{1,32}(?:![A-Za-z0-9_.-]{1,32})?$/;
const FINGERPRINT = /^(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/;
// PBS namespace: up to 7 levels of `[A-Za-z0-9_-]` names joined by `/`.
const NAMESPACE = /^[A-Za-z0-9_-]{1,32}(?:\/[A-Za-z0-9_-]{1,32}){0,6}$/;
const DATASTORE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$/;
// A PEM public key, base64 of the whole PEM as PVE's `master-pubkey` takes it.
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

const common = {
  class: z.enum(["fast", "slow"]).optional(),
  role: z.enum(["local", "offsite"]).optional(),
};

export const usbTarget = z.strictObject({
  kind: z.literal("usb"),
  fs_uuid: z.string().regex(FS_UUID, "not a filesystem UUID"),
  ...common,
});

export const nfsTarget = z.strictObject({
  kind: z.literal("nfs"),
  server: z.string().regex(HOST, "not a host name or address"),
  export: z.string().regex(EXPORT, "not an export path"),
  ...common,
});

export const cifsTarget = z.strictObject({
  kind: z.literal("cifs"),
  server: z.string().regex(HOST, "not a host name or address"),
  share: z.string().regex(SHARE, "not a share name"),
  username: z.string().regex(USERNAME, "not a user name"),
  password: sealedSecretSchema.optional(),
  ...common,
});

export const pbsTarget = z.strictObject({
  kind: z.literal("pbs"),
  server: z.string().regex(HOST, "not a host name or address"),
  datastore: z.string().regex(DATASTORE, "not a datastore name"),
  fingerprint: z.string().regex(FINGERPRINT, "not a SHA-256 fingerprint (AA:BB:…)"),
  namespace: z.string().regex(NAMESPACE, "not a PBS namespace").optional(),
  username: z.string().regex(PBS_USER, "not a PBS user (user@realm or user@realm!token)"),
  password: sealedSecretSchema,
  /**
   * The recovery public key (RSA, PEM, base64) every backup's encryption key is also wrapped
   * to by PVE itself (docs/proxmox-behaviour.md#pbs-client-side-encryption).
   */
  master_pubkey: z.string().max(8192).regex(BASE64, "not base64").optional(),
  ...common,
});

export const storageTargetSchema = z.discriminatedUnion("kind", [
  usbTarget,
  nfsTarget,
  cifsTarget,
  pbsTarget,
]);

export type StorageTarget = z.output<typeof storageTargetSchema>;
export type StorageKind = StorageTarget["kind"];

/** Where a USB target is mounted: always below /mnt/felhom (docs/desired-state.md#storage-targets). */
export const USB_MOUNT_ROOT = "/mnt/felhom";
export function usbMountpoint(id: string): string {
  return `${USB_MOUNT_ROOT}/${id}`;
}

/** The fields that make a target the same target; a change of any is an identity change. */
export function targetIdentity(t: StorageTarget): Record<string, string> {
  switch (t.kind) {
    case "usb":
      return { kind: t.kind, fs_uuid: t.fs_uuid.toLowerCase() };
    case "nfs":
      return { kind: t.kind, server: t.server, export: t.export };
    case "cifs":
      return { kind: t.kind, server: t.server, share: t.share, username: t.username };
    case "pbs":
      return {
        kind: t.kind,
        server: t.server,
        datastore: t.datastore,
        fingerprint: t.fingerprint.toUpperCase(),
        namespace: t.namespace ?? "",
      };
  }
}
