import { type FaultSpec, FaultSpecError, parseFaultSpec } from "../pve/faults.ts";
import type { PveSimulator } from "../pve/index.ts";
import { hostChangeBodySchema, setFaultsBodySchema } from "./schema.ts";

/** What the control endpoint reads and switches on a running simulator. */
export type ControlledSimulator = Pick<
  PveSimulator,
  "faults" | "setFaults" | "state" | "stats" | "hostFs"
>;

export interface SimControl {
  /** `http://127.0.0.1:PORT` */
  url: string;
  stop(): Promise<void>;
}

const MAX_BODY = 65_536;

const error = (status: number, message: string) =>
  Response.json({ error: message }, { status, headers: { "cache-control": "no-store" } });

const ROUTES: Record<string, readonly string[]> = {
  "/v1/faults": ["GET", "PUT", "POST"],
  "/v1/tasks": ["GET"],
  "/v1/guests": ["GET"],
  "/v1/stats": ["GET"],
  "/v1/host": ["GET", "POST"],
};

/**
 * Run-time control of a simulator over plain HTTP on loopback, for fault tests that drive the
 * real binary: read and replace the fault set, and read what the simulated host did (tasks,
 * guests, request counts), so a test counts changes where they happen. The caller checks that
 * the address is loopback; the simulator's tokens are no secret there either.
 */
export function startSimControl(
  sim: ControlledSimulator,
  listen: { hostname: string; port: number },
): SimControl {
  const server = Bun.serve({
    hostname: listen.hostname,
    port: listen.port,
    fetch: async (req) => {
      const path = new URL(req.url).pathname;
      const methods = ROUTES[path];
      if (methods === undefined) return error(404, `no such path ${path}`);
      if (!methods.includes(req.method)) {
        return new Response(null, { status: 405, headers: { allow: methods.join(", ") } });
      }
      if (path === "/v1/faults" && req.method !== "GET") return setFaults(sim, req);
      if (path === "/v1/host" && req.method === "POST") return changeHost(sim, req);
      return Response.json(read(sim, path), { headers: { "cache-control": "no-store" } });
    },
  });
  const host = listen.hostname.includes(":") ? `[${listen.hostname}]` : listen.hostname;
  return {
    url: `http://${host}:${server.port}`,
    stop: async () => {
      await server.stop(true);
    },
  };
}

function read(sim: ControlledSimulator, path: string): unknown {
  switch (path) {
    case "/v1/faults":
      return { faults: sim.faults };
    case "/v1/tasks":
      return {
        tasks: sim.state.tasks().map((t) => ({
          upid: t.upid,
          type: t.parts.type,
          id: t.parts.id,
          starttime: t.parts.starttime,
          status: t.status,
          ...(t.exitstatus !== undefined ? { exitstatus: t.exitstatus } : {}),
        })),
      };
    case "/v1/guests":
      return {
        guests: sim.state.guests().map((g) => ({
          vmid: g.vmid,
          status: g.running ? "running" : "stopped",
          cores: g.config.cores,
          memory: g.config.memory,
        })),
      };
    case "/v1/host":
      return hostView(sim);
    default:
      return sim.stats();
  }
}

function hostView(sim: ControlledSimulator) {
  return { fstab: [...sim.hostFs.fstab] };
}

/** Plugs or pulls USB disks and takes servers offline or back, at run time. */
async function changeHost(sim: ControlledSimulator, req: Request): Promise<Response> {
  const text = await readCapped(req, MAX_BODY);
  if (text === undefined) return error(413, `body larger than ${MAX_BODY} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return error(400, 'body must be JSON: {"unplug": ["<uuid>"]} or {"offline": ["nas.lan"]}');
  }
  const parsed = hostChangeBodySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return error(
      400,
      `invalid ${issue?.path.join(".") || "(body)"}: ${issue?.message ?? "invalid"}`,
    );
  }
  const fs = sim.hostFs;
  for (const u of parsed.data.plug ?? []) fs.plug(u);
  for (const u of parsed.data.unplug ?? []) fs.unplug(u);
  for (const s of parsed.data.offline ?? []) fs.setServerOnline(s, false);
  for (const s of parsed.data.online ?? []) fs.setServerOnline(s, true);
  if ((parsed.data.plug ?? []).length > 0) fs.remountFromFstab();
  return Response.json(hostView(sim), { headers: { "cache-control": "no-store" } });
}

async function setFaults(sim: ControlledSimulator, req: Request): Promise<Response> {
  const text = await readCapped(req, MAX_BODY);
  if (text === undefined) return error(413, `body larger than ${MAX_BODY} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return error(400, 'body must be JSON: {"spec": "dropafter=0.3"} or {"faults": {...}}');
  }
  const parsed = setFaultsBodySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") || "(body)";
    return error(400, `invalid ${where}: ${issue?.message ?? "invalid"}`);
  }
  let next: string | Partial<FaultSpec>;
  if ("spec" in parsed.data) {
    try {
      // Parsed here so a bad spec is a 400 that names the item, and nothing changes.
      parseFaultSpec(parsed.data.spec);
    } catch (err) {
      if (err instanceof FaultSpecError) return error(400, err.message);
      throw err;
    }
    next = parsed.data.spec;
  } else {
    next = stripUndefined(parsed.data.faults);
  }
  sim.setFaults(next);
  return Response.json({ faults: sim.faults }, { headers: { "cache-control": "no-store" } });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The body as text, reading no more than `max` bytes (chunked bodies too); undefined past it. */
async function readCapped(req: Request, max: number): Promise<string | undefined> {
  if (Number(req.headers.get("content-length") ?? 0) > max) return undefined;
  if (req.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body) {
    size += chunk.byteLength;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
