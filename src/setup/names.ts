/** The names setup gives things on the host and in Proxmox (docs/architecture.md#one-command-setup). */
export const SERVICE_USER = "felhom-agent";
export const PVE_USER = "felhom-agent@pve";
export const UNIT = "felhom-agent.service";
/** The comment on the user and token setup creates, so an operator sees where they come from. */
export const COMMENT = "felhom-agent (written by felhom-agent setup)";

/** A precondition failed before anything was changed, or a step failed; the message ends with what to do. */
export class SetupError extends Error {
  override readonly name = "SetupError";
}

/** Reports one line of what setup changed, or what it found already right. */
export type Say = (line: string) => void;
