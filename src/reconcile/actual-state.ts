/** A guest as read from Proxmox in one pass, in the planner's terms. */
export interface ActualGuest {
  vmid: number;
  /** From the list; anything other than running/stopped is left alone. */
  status: string;
  /** The config `lock:` (backup, snapshot, …) while an operation holds the guest (docs/proxmox-behaviour.md#locks). */
  lock?: string;
  template: boolean;
  /**
   * Undefined when not read (nothing managed needs it) or not readable: the run state above
   * still counts, spec checks are skipped for this pass.
   */
  config?: ActualConfig;
  /** Why the config is missing when it was needed. */
  configError?: string;
}

export interface ActualConfig {
  cores?: number;
  /** MiB, as PVE stores it (docs/proxmox-behaviour.md#units); undefined means PVE's default. */
  memoryMiB?: number;
  /** Raw, with PVE's trailing newline (docs/proxmox-behaviour.md#snapshots-and-descriptions); compare through normalizeDescription. */
  description?: string;
}

export interface ActualHostState {
  guests: ReadonlyMap<number, ActualGuest>;
  /**
   * Guests the list names but whose entry could not be read (docs/proxmox-behaviour.md#per-item-list-decoding):
   * present, state unknown. Never planned, and never taken for absent.
   */
  unreadable?: ReadonlyMap<number, string>;
}
