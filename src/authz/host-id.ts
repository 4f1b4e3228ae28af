import { z } from "zod";

// Host ids become URL path segments and file content; keep them to a safe alphabet. The format
// sits here, under the gate and the hub link, because both the gate's `host_id` setting and the
// hub protocol read it and signed envelopes are bound to it (docs/architecture.md#layers).
export const hostIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "host id: letters, digits, '.', '_', '-'");
