import type { Store } from "../store/store.ts";

/**
 * The state database as a command opens it next to a running daemon: shared, never created
 * (a host whose daemon never ran has none: StoreError `missing`). Imported when the command
 * runs, so `version` and `--help` do not load the store.
 */
export async function openExistingStore(stateDir: string): Promise<Store> {
  const { openStore, defaultStorePath } = await import("../store/open.ts");
  return openStore({ path: defaultStorePath(stateDir), exclusive: false, mustExist: true });
}
