import { startSimControl } from "../sim/control/server.ts";
import {
  FAULT_SPEC_HELP,
  FaultSpecError,
  type PveSeed,
  parseFaultSpec,
  pveSeedSchema,
  startPveSimulator,
} from "../sim/pve/index.ts";
import { EXIT_USAGE, renderHelp, reportFailure, UsageError } from "./context.ts";
import { parseFlags } from "./flags.ts";
import { readJsonFile } from "./read-json-file.ts";
import { runHubSimCommand } from "./sim-hub.ts";
import { LISTEN_HINT, parseLoopbackListen } from "./sim-listen.ts";
import { stopOnSignal } from "./stop-on-signal.ts";

export interface SimIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const HELP = renderHelp({
  usage: [
    "felhom-agent sim [options]",
    "felhom-agent sim hub [options]     (the hub simulator; see 'sim hub --help')",
  ],
  body: `Runs a simulated Proxmox VE 9.1 API over HTTPS on loopback, with its own self-signed
certificate. Prints one JSON line when ready:
  {"endpoint":"https://127.0.0.1:PORT","node":"pve1","fingerprint":"AA:…","tokens":{…}}
(with "control":"http://127.0.0.1:PORT" when --control is given) then serves until SIGINT or
SIGTERM.

Options:
  --listen HOST:PORT   loopback address to listen on (default 127.0.0.1:0, a free port)
  --control HOST:PORT  also serve a control endpoint over plain HTTP on this loopback address
                       (port 0: a free one) to switch faults while the simulator runs:
                         GET  /v1/faults   the fault set in force
                         PUT  /v1/faults   replace it (POST does the same); JSON body
                                           {"spec":"dropafter=0.3"} (the --faults grammar) or
                                           {"faults":{"dropAfter":0.3,"taskFail":["vzstart"]}}
                         GET  /v1/tasks, /v1/guests, /v1/stats   what the simulated host did
                         POST /v1/host     plug or pull USB disks, take NAS/PBS servers offline:
                                           {"unplug":["<fs-uuid>"],"offline":["nas.lan"]}
                                           (also "plug", "online"); GET shows the fstab
  --seed FILE          JSON seed document (node, storages, guests, access); default built in
  --task-ms N          how long each task runs, in ms (default 1500)
  --auth-delay-ms N    delay of 401 answers, in ms (default 3000, as Proxmox does)
  --faults SPEC        inject faults (grammar below)
  --random-seed N      seed of the random source behind faults and MACs (default 1)
  -h, --help           show this help

${FAULT_SPEC_HELP}`,
  examples: [
    "felhom-agent sim --listen 127.0.0.1:8006",
    "felhom-agent sim --control 127.0.0.1:0 --faults dropafter=0.3",
  ],
  exitCodes: "0 stopped by a signal, 1 could not start, 2 usage error",
});

function nonNegativeInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new UsageError(`${flag} must be a non-negative integer, got '${value}'`);
  return Number(value);
}

async function loadSeed(file: string): Promise<PveSeed> {
  const json = await readJsonFile(file, `seed file '${file}'`);
  const parsed = pveSeedSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") || "(top level)";
    throw new UsageError(
      `seed file '${file}' is invalid at ${where}: ${issue?.message ?? "invalid"}`,
    );
  }
  return parsed.data;
}

/** `felhom-agent sim`: resolves with the exit code once SIGINT/SIGTERM stopped the server. */
export async function runSimCommand(argv: string[], io: SimIo): Promise<number> {
  if (argv[0] === "hub") return runHubSimCommand(argv.slice(1), io);
  let options: Parameters<typeof startPveSimulator>[0];
  let control: { hostname: string; port: number } | undefined;
  try {
    const { values } = parseFlags(argv, {
      listen: { type: "string" },
      control: { type: "string" },
      seed: { type: "string" },
      "task-ms": { type: "string" },
      "auth-delay-ms": { type: "string" },
      faults: { type: "string" },
      "random-seed": { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      io.stdout(HELP);
      return 0;
    }
    const taskMs = nonNegativeInt("--task-ms", values["task-ms"]);
    const authFailDelayMs = nonNegativeInt("--auth-delay-ms", values["auth-delay-ms"]);
    const randomSeed = nonNegativeInt("--random-seed", values["random-seed"]);
    options = {
      listen: parseLoopbackListen("--listen", values.listen ?? "127.0.0.1:0"),
      ...(values.seed === undefined ? {} : { seed: await loadSeed(values.seed) }),
      ...(taskMs === undefined ? {} : { taskMs }),
      ...(authFailDelayMs === undefined ? {} : { authFailDelayMs }),
      ...(randomSeed === undefined ? {} : { randomSeed }),
      ...(values.faults === undefined ? {} : { faults: parseFaultSpec(values.faults) }),
    };
    if (values.control !== undefined) control = parseLoopbackListen("--control", values.control);
  } catch (e) {
    if (e instanceof UsageError || e instanceof FaultSpecError) {
      return reportFailure(
        io,
        "sim",
        (e as Error).message,
        "run 'felhom-agent sim --help' for usage",
        EXIT_USAGE,
      );
    }
    throw e;
  }

  let sim: Awaited<ReturnType<typeof startPveSimulator>>;
  try {
    sim = await startPveSimulator(options);
  } catch (e) {
    return reportFailure(io, "sim", `cannot start: ${(e as Error).message}`, LISTEN_HINT);
  }
  let controlServer: ReturnType<typeof startSimControl> | undefined;
  if (control !== undefined) {
    try {
      controlServer = startSimControl(sim, control);
    } catch (e) {
      await sim.stop();
      return reportFailure(
        io,
        "sim",
        `cannot serve --control: ${(e as Error).message}`,
        LISTEN_HINT,
      );
    }
  }
  const stopped = stopOnSignal(() => Promise.all([sim.stop(), controlServer?.stop()]));
  io.stdout(
    `${JSON.stringify({
      endpoint: sim.endpoint,
      node: sim.node,
      fingerprint: sim.fingerprint,
      tokens: { agent: sim.tokens.agent, noacl: sim.tokens.noacl, root: sim.tokens.root },
      ...(controlServer ? { control: controlServer.url } : {}),
    })}\n`,
  );
  await stopped;
  return 0;
}
