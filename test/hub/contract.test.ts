import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { buildHubContract, hubContractText } from "../../src/hub/contract.ts";
import { HUB_PATHS } from "../../src/hub/protocol.ts";

describe("hub protocol contract", () => {
  test("docs/hub-protocol.json is generated from the current schemas (run bun scripts/gen-hub-contract.ts)", async () => {
    const committed = await Bun.file(
      join(import.meta.dir, "..", "..", "docs", "hub-protocol.json"),
    ).text();
    expect(committed).toBe(hubContractText());
  });

  test("every protocol path is described", () => {
    const paths = Object.keys(buildHubContract().paths as Record<string, unknown>);
    expect(paths.sort()).toEqual(Object.values(HUB_PATHS).sort());
  });

  test("the job schema lists the shared operation vocabulary", () => {
    const schemas = (
      buildHubContract().components as {
        schemas: Record<string, { properties: Record<string, { enum?: string[] }> }>;
      }
    ).schemas;
    expect(schemas.Job?.properties.op?.enum).toContain("guest.destroy");
  });
});
