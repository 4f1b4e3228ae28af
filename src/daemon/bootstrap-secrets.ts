import { BOOTSTRAP_ENV_KEY, type ExecSecrets } from "../reconcile/executors.ts";

/**
 * The clear bootstrap codes between their issue and the `PUT …/config` that writes them into
 * the guest's `env`: memory only, so a restart forgets them and the provisioning issues a new
 * one (src/store/README.md#bootstrap-codes). The engine's `guest.config` executor reads them.
 */
export class BootstrapSecrets implements ExecSecrets {
  private readonly held = new Map<string, string>();

  hold(id: string, code: string): void {
    this.held.set(id, code);
  }

  forget(id: string): void {
    this.held.delete(id);
  }

  bootstrapEnv(id: string): string | undefined {
    const code = this.held.get(id);
    return code === undefined ? undefined : `${BOOTSTRAP_ENV_KEY}=${code}`;
  }
}
