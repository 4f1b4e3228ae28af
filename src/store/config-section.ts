import { z } from "zod";
import { defineSection } from "../config/section.ts";

/** `state`: how the state database is kept (src/store/README.md#upkeep). */
export interface StateConfig {
  /**
   * Days a finished journal entry is kept before it is pruned. Entries something still needs
   * (in flight, held operations, guest overrides, provenance) are kept regardless.
   */
  journal_retention_days: number;
}

const schema = z
  .strictObject({
    journal_retention_days: z.number().int().min(1).max(3650).default(30),
  })
  .prefault({});

export const stateSection = defineSection({
  key: "state",
  schema,
  env: [{ path: ["state", "journal_retention_days"], kind: "int" }],
  resolve: (raw: z.output<typeof schema>): StateConfig => ({ ...raw }),
  redact: (c: StateConfig) => ({ ...c }),
  secrets: () => [],
});
