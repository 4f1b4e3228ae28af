/**
 * Extracts the parameter and return schemas of the endpoints the PVE simulator serves from the
 * official API schema (pve-docs `api-viewer/apidata.js`, as JSON; docs/proxmox-behaviour.md#api-schema-source) into
 * `src/sim/pve/schema/pve-schema.json`, which is committed so tests never need the source file.
 *
 * Usage: bun scripts/extract-pve-schema.ts path/to/apischema.json
 * (or PVE_APISCHEMA=path/to/apischema.json): the full export is not kept in the repository.
 */
import { resolve } from "node:path";
import { z } from "zod";

const OUTPUT = "src/sim/pve/schema/pve-schema.json";

export const SIMULATED_ENDPOINTS = [
  "GET /version",
  "GET /nodes",
  "GET /nodes/{node}/status",
  "GET /nodes/{node}/time",
  "GET /nodes/{node}/lxc",
  "POST /nodes/{node}/lxc",
  "GET /nodes/{node}/lxc/{vmid}/status/current",
  "POST /nodes/{node}/lxc/{vmid}/status/start",
  "POST /nodes/{node}/lxc/{vmid}/status/stop",
  "POST /nodes/{node}/lxc/{vmid}/status/shutdown",
  "GET /nodes/{node}/lxc/{vmid}/config",
  "PUT /nodes/{node}/lxc/{vmid}/config",
  "GET /nodes/{node}/lxc/{vmid}/pending",
  "GET /nodes/{node}/lxc/{vmid}/snapshot",
  "POST /nodes/{node}/lxc/{vmid}/snapshot",
  "DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}",
  "POST /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback",
  "PUT /nodes/{node}/lxc/{vmid}/resize",
  "DELETE /nodes/{node}/lxc/{vmid}",
  "POST /nodes/{node}/vzdump",
  "GET /storage",
  "GET /nodes/{node}/storage",
  "GET /nodes/{node}/storage/{storage}/content",
  "GET /cluster/resources",
  "GET /cluster/nextid",
  "GET /nodes/{node}/tasks",
  "GET /nodes/{node}/tasks/{upid}/status",
  "GET /nodes/{node}/tasks/{upid}/log",
  "GET /access/permissions",
  "POST /nodes/{node}/lxc/{vmid}/status/reboot",
  "GET /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config",
  "PUT /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config",
  "DELETE /nodes/{node}/tasks/{upid}",
  "POST /access/ticket",
  "PUT /storage/{storage}",
  "POST /storage",
  "DELETE /storage/{storage}",
  "GET /nodes/{node}/storage/{storage}/prunebackups",
  "DELETE /nodes/{node}/storage/{storage}/prunebackups",
  "DELETE /nodes/{node}/storage/{storage}/content/{volume}",
  "PUT /nodes/{node}/storage/{storage}/content/{volume}",
  "GET /nodes/{node}/disks/list",
  "GET /nodes/{node}/disks/smart",
  "GET /nodes/{node}/lxc/{vmid}/interfaces",
] as const;

/**
 * apidata.js collapses `net0`…`netN` into one `net[n]` entry and does not say how many there
 * are; the counts come from pve-container `src/PVE/LXC/Config.pm` ($MAX_LXC_NETWORKS = 32,
 * $MAX_MOUNT_POINTS = 256, $MAX_UNUSED_DISKS = $MAX_MOUNT_POINTS, $MAX_DEVICES = 256). The resize
 * `disk` enum (rootfs, mp0…mp255) confirms the mount point count.
 */
const INDEX_COUNTS = { net: 32, mp: 256, unused: 256, dev: 256 } as const;

/** Schema keys that matter for validation; descriptions and UI hints are dropped. */
const KEPT_KEYS = new Set([
  "type",
  "optional",
  "default",
  "enum",
  "format",
  "pattern",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "typetext",
  "items",
  "properties",
  "additionalProperties",
  "requires",
  "alias",
  "keyAlias",
  "default_key",
  "oneOf",
  "type-property",
  "instance-types",
]);

const MethodInfo = z.looseObject({
  parameters: z.looseObject({}).optional(),
  returns: z.looseObject({}).optional(),
  permissions: z.unknown().optional(),
  allowtoken: z.number().optional(),
  protected: z.number().optional(),
  proxyto: z.string().optional(),
});

interface ApiNode {
  path: string;
  info?: Record<string, unknown>;
  children?: ApiNode[];
}

const ApiNodeSchema: z.ZodType<ApiNode> = z.lazy(() =>
  z.looseObject({
    path: z.string(),
    info: z.record(z.string(), z.unknown()).optional(),
    children: z.array(ApiNodeSchema).optional(),
  }),
);

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!KEPT_KEYS.has(k)) continue;
    if (k === "properties" || (k === "format" && typeof v === "object" && v !== null)) {
      // Keys of these maps are property names, not schema keywords: keep all of them.
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([name, sub]) => [name, strip(sub)]),
      );
    } else {
      out[k] = strip(v);
    }
  }
  return out;
}

function indexTree(nodes: ApiNode[], into: Map<string, ApiNode>): Map<string, ApiNode> {
  for (const n of nodes) {
    into.set(n.path, n);
    if (n.children) indexTree(n.children, into);
  }
  return into;
}

export function extractSchema(apiSchema: unknown): Record<string, unknown> {
  const tree = z.array(ApiNodeSchema).parse(apiSchema);
  const byPath = indexTree(tree, new Map());
  const endpoints: Record<string, unknown> = {};
  for (const key of SIMULATED_ENDPOINTS) {
    const [method, path] = key.split(" ") as [string, string];
    const info = byPath.get(path)?.info?.[method];
    if (info === undefined) throw new Error(`endpoint ${key} is not in the API schema`);
    const m = MethodInfo.parse(info);
    endpoints[key] = {
      parameters: strip(m.parameters ?? { additionalProperties: 0, properties: {} }),
      returns: strip(m.returns ?? {}),
      permissions: m.permissions ?? null,
      allowtoken: m.allowtoken ?? 1,
      protected: m.protected ?? 0,
      ...(m.proxyto === undefined ? {} : { proxyto: m.proxyto }),
    };
  }
  return {
    source: "pve-docs apidata.js, PVE 9.1",
    sourceCommit: "a8736b6d6169ea9679ee02285ea36fdab42e85c3",
    generator: "scripts/extract-pve-schema.ts",
    indexCounts: INDEX_COUNTS,
    endpoints,
  };
}

if (import.meta.main) {
  const root = resolve(import.meta.dir, "..");
  const given = process.argv[2] ?? process.env.PVE_APISCHEMA;
  if (given === undefined) {
    console.error(
      "usage: bun scripts/extract-pve-schema.ts path/to/apischema.json (or set PVE_APISCHEMA)",
    );
    process.exit(2);
  }
  const source = resolve(process.cwd(), given);
  const raw: unknown = await Bun.file(source).json();
  const out = extractSchema(raw);
  await Bun.write(resolve(root, OUTPUT), `${JSON.stringify(out, null, 2)}\n`);
  // The file is committed, so it must already be in the shape the repository's formatter wants.
  const fmt = Bun.spawnSync(
    [resolve(root, "node_modules/.bin/biome"), "format", "--write", OUTPUT],
    {
      cwd: root,
      stdout: "inherit",
      stderr: "inherit",
    },
  );
  if (fmt.exitCode !== 0) throw new Error(`biome format failed with exit code ${fmt.exitCode}`);
  console.log(`wrote ${OUTPUT} (${Object.keys(out.endpoints as object).length} endpoints)`);
}
