import { z } from "zod";
import { defineSection } from "../config/section.ts";

/** The `health` section of agent.json (docs/health.md#configuration). */
const healthSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    disks_interval_s: z.number().int().min(60).max(86_400).default(1800),
    sensors_interval_s: z.number().int().min(10).max(3600).default(60),
    node_interval_s: z.number().int().min(10).max(3600).default(60),
    tunnel: z
      .strictObject({
        /** Watch cloudflared; on once install.sh --with-tunnel has set it up. */
        enabled: z.boolean().default(false),
        /** cloudflared's `--metrics 127.0.0.1:<port>`; the unit install.sh writes uses 20241. */
        metrics_port: z.number().int().min(1).max(65535).default(20241),
        /** Where `tunnel.configure` writes the token; the directory install.sh creates. */
        token_file: z
          .string()
          .regex(/^\/[A-Za-z0-9._/-]+$/, "must be an absolute path")
          .default("/etc/felhom-tunnel/token"),
      })
      .prefault({}),
  })
  .prefault({});

export type HealthConfig = z.output<typeof healthSchema>;

export const healthSection = defineSection({
  key: "health",
  schema: healthSchema,
  env: [
    { path: ["health", "enabled"], kind: "bool" },
    { path: ["health", "tunnel", "enabled"], kind: "bool" },
    { path: ["health", "tunnel", "metrics_port"], kind: "int" },
  ],
  resolve: (raw: HealthConfig): HealthConfig => ({ ...raw, tunnel: { ...raw.tunnel } }),
  redact: (c: HealthConfig) => ({ ...c, tunnel: { ...c.tunnel } }),
  secrets: () => [],
});

const LOOPBACK = /^(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]):(\d{1,5})$/;

/** `host:port` on a loopback address: /metrics is never served beyond the host. */
export function parseMetricsListen(s: string): { hostname: string; port: number } {
  const m = LOOPBACK.exec(s);
  const port = m ? Number(m[1]) : Number.NaN;
  if (!m || port < 1 || port > 65535) {
    throw new Error("must be a loopback address and port, e.g. 127.0.0.1:9321 or [::1]:9321");
  }
  const host = s.slice(0, s.lastIndexOf(":"));
  return { hostname: host.replace(/^\[|\]$/g, ""), port };
}

/** The `metrics` section: where `GET /metrics` is served; absent = not served. */
const metricsSchema = z
  .strictObject({
    listen: z
      .string()
      .refine((s) => {
        try {
          parseMetricsListen(s);
          return true;
        } catch {
          return false;
        }
      }, "must be a loopback address and port, e.g. 127.0.0.1:9321")
      .optional(),
  })
  .prefault({});

export type MetricsConfig = z.output<typeof metricsSchema>;

export const metricsSection = defineSection({
  key: "metrics",
  schema: metricsSchema,
  env: [{ path: ["metrics", "listen"], kind: "string" }],
  resolve: (raw: MetricsConfig): MetricsConfig => ({ ...raw }),
  redact: (c: MetricsConfig) => ({ ...c }),
  secrets: () => [],
});
