import type { BunFile } from "bun";

export interface CliOutput {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Resolves once everything written so far has reached its descriptor. */
  flush(): Promise<void>;
}

/**
 * The CLI's stdout and stderr through `Bun.write` rather than `process.stdout`: the first use
 * of `process.stdout` builds a Node stream, which costs a short command such as `version` a
 * large share of its start-up (docs/bun-runtime.md#start-up-output). Writes to one descriptor
 * are chained so they land in order; `flush` is awaited before the process exits so nothing
 * is lost. A reader that went away (`… | head`) ends that output quietly, as a pipeline expects.
 */
export function createCliOutput(
  out: BunFile = Bun.stdout,
  err: BunFile = Bun.stderr,
  write: (file: BunFile, text: string) => Promise<number> = (file, text) => Bun.write(file, text),
): CliOutput {
  const chain = (file: BunFile) => {
    let tail: Promise<unknown> = Promise.resolve();
    let closed = false;
    return {
      write(text: string) {
        tail = tail.then(async () => {
          if (closed) return;
          try {
            await write(file, text);
          } catch {
            closed = true;
          }
        });
      },
      done: () => tail.then(() => undefined),
    };
  };
  const o = chain(out);
  const e = chain(err);
  return {
    stdout: o.write,
    stderr: e.write,
    flush: async () => {
      await Promise.all([o.done(), e.done()]);
    },
  };
}
