import { AGENT_ROLE, REQUIRED_PRIVILEGES } from "../selftest/required-privileges.ts";
import { COMMENT, PVE_USER, type Say } from "./names.ts";
import type { Pveum } from "./pveum.ts";

/**
 * The role holds exactly the required privileges: missing ones are added and extra ones taken
 * away, since the role exists for the agent alone (docs/architecture.md#one-command-setup).
 */
export async function ensureRole(pve: Pveum, changed: Say, same: Say): Promise<void> {
  const want = [...REQUIRED_PRIVILEGES].sort();
  const roles = await pve.roles();
  const have = roles.get(AGENT_ROLE);
  if (have === undefined) {
    await pve.addRole(AGENT_ROLE, want);
    changed(`created    role ${AGENT_ROLE} (${want.length} privileges)`);
    return;
  }
  const added = want.filter((p) => !have.includes(p));
  const removed = have.filter((p) => !(want as string[]).includes(p));
  if (added.length === 0 && removed.length === 0) {
    same(`role ${AGENT_ROLE} (${want.length} privileges)`);
    return;
  }
  await pve.setRolePrivs(AGENT_ROLE, want);
  const parts = [
    added.length > 0 ? `added ${added.join(" ")}` : "",
    removed.length > 0 ? `removed ${removed.join(" ")}` : "",
  ].filter((p) => p !== "");
  changed(`repaired   role ${AGENT_ROLE}: ${parts.join("; ")}`);
}

export async function ensureUser(pve: Pveum, changed: Say, same: Say): Promise<void> {
  if ((await pve.users()).includes(PVE_USER)) {
    same(`user ${PVE_USER}`);
    return;
  }
  await pve.addUser(PVE_USER, COMMENT);
  changed(`created    user ${PVE_USER}`);
}
