import { z } from "zod";
import { storageId } from "./common.ts";
import { cifsTarget, nfsTarget, pbsTarget, usbTarget } from "./storage-target.ts";

const withId = { id: storageId };

/** `storage.add`: define one backup target in PVE (docs/desired-state.md#storage-targets). */
export const storageAddParams = z.discriminatedUnion("kind", [
  usbTarget.extend(withId),
  nfsTarget.extend(withId),
  cifsTarget.extend(withId),
  pbsTarget.extend(withId),
]);

/** `storage.remove`: delete a storage definition; the data on it stays (src/gate/README.md). */
export const storageRemoveParams = z.strictObject({ id: storageId });

export type StorageAddParams = z.output<typeof storageAddParams>;
export type StorageRemoveParams = z.output<typeof storageRemoveParams>;
