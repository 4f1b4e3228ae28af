import { BOOTSTRAP_ENV_KEY, type ExecSecrets } from "../reconcile/executors.ts";

/**
 * The clear bootstrap codes between their issue and the `PUT …/config` that writes them into
 * the guest's `env`: memory only, so a restart forgets them and the provisioning issues a new
 * one (src/store/README.md#bootstrap-codes). The engine's `guest.config` executor reads them.
 */
export class BootstrapSecrets implements ExecSecrets {
  private readonly held = new Map<string, { vmid: number; code: string }>();

  hold(id: string, vmid: number, code: string): void {
    this.held.set(id, { vmid, code });
  }

  forget(id: string): void {
    this.held.delete(id);
  }

  /** A code goes only into the guest it was issued to, whoever names its id. */
  bootstrapEnv(id: string, vmid: number): string | undefined {
    const h = this.held.get(id);
    return h === undefined || h.vmid !== vmid ? undefined : `${BOOTSTRAP_ENV_KEY}=${h.code}`;
  }
}
