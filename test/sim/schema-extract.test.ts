import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { extractSchema, SIMULATED_ENDPOINTS } from "../../scripts/extract-pve-schema.ts";
import committed from "../../src/sim/pve/schema/pve-schema.json" with { type: "json" };

// The full apidata.js export is not kept in the repository; when PVE_APISCHEMA names a copy,
// the committed extract must be exactly what the script makes of it.
const SOURCE = process.env.PVE_APISCHEMA ?? "";

describe("extract-pve-schema", () => {
  test.skipIf(SOURCE === "" || !existsSync(SOURCE))(
    "the committed schema is up to date with apidata.js",
    async () => {
      const out = extractSchema(await Bun.file(SOURCE).json());
      expect(out).toEqual(committed as unknown as Record<string, unknown>);
    },
  );

  test("drops descriptions and keeps validation keywords", () => {
    const tree = [
      {
        path: "/version",
        info: {
          GET: {
            parameters: {
              additionalProperties: 0,
              properties: {
                x: { type: "integer", description: "gone", minimum: 1, typetext: "<integer>" },
              },
            },
            returns: { type: "object", description: "gone", properties: {} },
            allowtoken: 1,
          },
        },
      },
    ];
    const withAll = SIMULATED_ENDPOINTS.map((key) => {
      const [method, path] = key.split(" ") as [string, string];
      return { path, info: { [method]: tree[0]?.info.GET } };
    });
    // Several methods on one path: merge their info objects.
    const byPath = new Map<string, { path: string; info: Record<string, unknown> }>();
    for (const n of withAll) {
      const cur = byPath.get(n.path);
      if (cur) Object.assign(cur.info, n.info);
      else byPath.set(n.path, { path: n.path, info: { ...n.info } });
    }
    const out = extractSchema([...byPath.values()]) as {
      endpoints: Record<string, { parameters: unknown; returns: unknown; protected: number }>;
    };
    expect(out.endpoints["GET /version"]).toMatchObject({
      parameters: {
        additionalProperties: 0,
        properties: { x: { type: "integer", minimum: 1, typetext: "<integer>" } },
      },
      returns: { type: "object", properties: {} },
      protected: 0,
    });
    expect(JSON.stringify(out)).not.toContain("gone");
  });

  test("a missing endpoint is an error, not a silent gap", () => {
    expect(() => extractSchema([{ path: "/version", info: {} }])).toThrow(
      "endpoint GET /version is not in the API schema",
    );
  });
});
