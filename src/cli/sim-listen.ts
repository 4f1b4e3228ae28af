import { UsageError } from "./context.ts";

/**
 * HOST:PORT for a simulator socket, loopback only: the simulators print working credentials
 * and the control endpoint switches faults without authentication, so neither may be
 * reachable from another machine.
 */
export function parseLoopbackListen(
  flag: string,
  text: string,
): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const hostname = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || hostname === undefined || port > 65535) {
    throw new UsageError(`${flag} must be HOST:PORT, got '${text}'`);
  }
  if (
    !/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname) &&
    hostname !== "::1" &&
    hostname !== "localhost"
  ) {
    throw new UsageError(
      `${flag} must be a loopback address (127.x.x.x, ::1, localhost), got '${hostname}'`,
    );
  }
  return { hostname, port };
}

/** What to do when a simulator cannot listen, for `sim` and `sim hub`. */
export const LISTEN_HINT = "choose another --listen port, or 0 for a free one";
