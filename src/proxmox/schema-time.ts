import { z } from "zod";
import { lenientInt } from "./lenient.ts";

/** `GET /nodes/{node}/time` (docs/proxmox-behaviour.md#node-time). */
export interface NodeTime {
  /** The node's clock, whole seconds since the epoch (UTC). */
  timeSec: number;
  timezone?: string;
}

export const nodeTimeSchema = z
  .object({ time: lenientInt, timezone: z.string().optional() })
  .loose()
  .transform(
    (t): NodeTime => ({
      timeSec: t.time,
      ...(t.timezone !== undefined ? { timezone: t.timezone } : {}),
    }),
  );
