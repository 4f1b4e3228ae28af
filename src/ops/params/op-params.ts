import type { z } from "zod";
import type { OpName } from "../types.ts";
import { agentUpdateParams } from "./agent-update.ts";
import {
  backupPolicyParams,
  guestBackupDeleteParams,
  guestBackupProtectParams,
  guestBackupPruneParams,
} from "./backup-policy.ts";
import { goldenRegisterParams } from "./golden-register.ts";
import { guestBackupParams } from "./guest-backup.ts";
import { guestConfigParams } from "./guest-config.ts";
import { guestDestroyParams } from "./guest-destroy.ts";
import { guestProvisionParams, guestRestoreParams } from "./guest-provision.ts";
import { guestResizeParams } from "./guest-resize.ts";
import { guestShutdownParams, guestStartParams, guestStopParams } from "./guest-run.ts";
import {
  guestRollbackParams,
  guestSnapshotDeleteParams,
  guestSnapshotParams,
} from "./guest-snapshot.ts";
import { signersRotateParams } from "./signers-rotate.ts";
import { storageAddParams, storageRemoveParams } from "./storage.ts";
import { tunnelConfigureParams } from "./tunnel-configure.ts";

/**
 * The one parameter shape of every operation the agent can carry out, by name. The executor's
 * input type is inferred from it, the executor parses with it, and the gate judges the same
 * shape plus its benign refinements (docs/architecture.md#one-schema-per-operation).
 */
export const OP_PARAMS = {
  "guest.start": guestStartParams,
  "guest.stop": guestStopParams,
  "guest.shutdown": guestShutdownParams,
  "guest.config": guestConfigParams,
  "guest.resize": guestResizeParams,
  "guest.snapshot": guestSnapshotParams,
  "guest.rollback": guestRollbackParams,
  "guest.snapshot.delete": guestSnapshotDeleteParams,
  "guest.backup": guestBackupParams,
  "guest.backup.delete": guestBackupDeleteParams,
  "guest.backup.prune": guestBackupPruneParams,
  "guest.backup.protect": guestBackupProtectParams,
  "guest.provision": guestProvisionParams,
  "guest.restore": guestRestoreParams,
  "guest.destroy": guestDestroyParams,
  "golden.register": goldenRegisterParams,
  "signers.rotate": signersRotateParams,
  "agent.update": agentUpdateParams,
  "storage.add": storageAddParams,
  "storage.remove": storageRemoveParams,
  "backup.policy": backupPolicyParams,
  "tunnel.configure": tunnelConfigureParams,
} as const satisfies Partial<Record<OpName, z.ZodType>>;

export type ParamOp = keyof typeof OP_PARAMS;

/** The parsed params of each operation, inferred from its one schema. */
export type OpParamsOf = { [K in ParamOp]: z.output<(typeof OP_PARAMS)[K]> };
