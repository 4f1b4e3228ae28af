import { z } from "zod";

/** A PVE volume id of a backup: `<storage>:<volume>` (pve-volume-id). */
export const GOLDEN_VOLID = /^[A-Za-z][A-Za-z0-9_.-]{0,63}:[^\s,;=]{1,447}$/;
export const GOLDEN_CHECKSUM = /^sha256:[0-9a-f]{64}$/;

/** `golden.register`: an archive new guests may be provisioned from unsigned (src/gate/README.md). */
export const goldenRegisterParams = z.strictObject({
  volid: z.string().max(512).regex(GOLDEN_VOLID, "not a backup volume id (<storage>:<volume>)"),
  checksum: z.string().regex(GOLDEN_CHECKSUM, "not sha256:<64 lowercase hex>").optional(),
});

export type GoldenRegisterParams = z.output<typeof goldenRegisterParams>;
