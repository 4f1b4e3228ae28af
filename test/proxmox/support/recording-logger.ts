import type { LogFields, Logger } from "../../../src/log/types.ts";

export interface LogRecord {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  fields: LogFields;
}

export function recordingLogger(
  records: LogRecord[] = [],
  base: LogFields = {},
): Logger & { records: LogRecord[] } {
  const at =
    (level: LogRecord["level"]) =>
    (msg: string, fields: LogFields = {}) =>
      records.push({ level, msg, fields: { ...base, ...fields } });
  return {
    records,
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (fields) => recordingLogger(records, { ...base, ...fields }),
  };
}
