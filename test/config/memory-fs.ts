import type { ConfigFs } from "../../src/config/fs.ts";

/** An in-memory ConfigFs: path → {text, mode}. */
export function memoryFs(
  files: Record<string, { text: string; mode?: number; dir?: boolean }>,
): ConfigFs {
  const missing = (path: string) => Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
  return {
    readFile: async (path) => {
      const f = files[path];
      if (!f) throw missing(path);
      if (f.dir) throw Object.assign(new Error("EISDIR"), { code: "EISDIR" });
      return f.text;
    },
    stat: async (path) => {
      const f = files[path];
      if (!f) throw missing(path);
      return { mode: (f.dir ? 0o040000 : 0o100000) | (f.mode ?? 0o600), isFile: () => !f.dir };
    },
  };
}
