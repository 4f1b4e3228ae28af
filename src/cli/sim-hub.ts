import { startHubSimulator } from "../sim/hub/index.ts";
import { EXIT_USAGE, renderHelp, reportFailure, UsageError } from "./context.ts";
import { parseFlags } from "./flags.ts";
import { readJsonFile } from "./read-json-file.ts";
import { LISTEN_HINT, parseLoopbackListen } from "./sim-listen.ts";
import { stopOnSignal } from "./stop-on-signal.ts";

export interface SimHubIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const HELP = renderHelp({
  usage: ["felhom-agent sim hub [options]"],
  body: `Runs the hub simulator (protocol v1, docs/hub-protocol.md) over HTTPS on loopback with its own
self-signed certificate. Prints one JSON line when ready:
  {"url":"https://127.0.0.1:PORT","fingerprint":"AA:…","code":"…"}
where code is a single-use enrollment code, so that
  felhom-agent enroll --hub URL --fingerprint FP --code CODE
enrolls a host against it. Serves until SIGINT or SIGTERM.

Options:
  --listen HOST:PORT   loopback address to listen on (default 127.0.0.1:0, a free port)
  --desired FILE       a desired-state document (docs/desired-state.md) served to every host
  --code-ttl-ms N      how long the printed code stays usable, in ms (default 600000)
  -h, --help           show this help`,
  examples: ["felhom-agent sim hub --desired desired.json"],
  exitCodes: "0 stopped by a signal, 1 could not start, 2 usage error",
});

/** `felhom-agent sim hub`: resolves with the exit code once SIGINT/SIGTERM stopped it. */
export async function runHubSimCommand(argv: string[], io: SimHubIo): Promise<number> {
  let listen: { hostname: string; port: number };
  let desired: unknown;
  let codeTtlMs: number | undefined;
  try {
    const { values } = parseFlags(argv, {
      listen: { type: "string" },
      desired: { type: "string" },
      "code-ttl-ms": { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.stdout(HELP);
      return 0;
    }
    listen = parseLoopbackListen("--listen", values.listen ?? "127.0.0.1:0");
    const ttl = values["code-ttl-ms"];
    if (ttl !== undefined) {
      if (!/^[1-9]\d{0,9}$/.test(ttl)) {
        throw new UsageError(`--code-ttl-ms must be a positive integer, got '${ttl}'`);
      }
      codeTtlMs = Number(ttl);
    }
    if (values.desired !== undefined)
      desired = await readJsonFile(values.desired, `--desired '${values.desired}'`);
  } catch (e) {
    if (e instanceof UsageError) {
      return reportFailure(
        io,
        "sim hub",
        (e as Error).message,
        "run 'felhom-agent sim hub --help' for usage",
        EXIT_USAGE,
      );
    }
    throw e;
  }

  let hub: Awaited<ReturnType<typeof startHubSimulator>>;
  try {
    hub = await startHubSimulator({ listen, ...(codeTtlMs !== undefined ? { codeTtlMs } : {}) });
  } catch (e) {
    return reportFailure(io, "sim hub", `cannot start: ${(e as Error).message}`, LISTEN_HINT);
  }
  if (desired !== undefined) {
    try {
      hub.setDesired(desired);
    } catch (e) {
      await hub.stop();
      return reportFailure(
        io,
        "sim hub",
        `--desired is not a valid document: ${(e as Error).message}`,
        "see docs/desired-state.md",
        EXIT_USAGE,
      );
    }
  }
  const stopped = stopOnSignal(() => hub.stop());
  io.stdout(
    `${JSON.stringify({ url: hub.url, fingerprint: hub.fingerprint, code: hub.issueCode() })}\n`,
  );
  await stopped;
  return 0;
}
