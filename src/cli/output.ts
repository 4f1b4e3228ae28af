import type { FileSink } from "bun";

export interface CliOutput {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Resolves once everything written so far has reached its descriptor. */
  flush(): Promise<void>;
}

/** The part of Bun's `FileSink` the output uses; tests hand in a recording one. */
export type Sink = Pick<FileSink, "write" | "flush">;

/**
 * The CLI's stdout and stderr through Bun's file sinks (`Bun.stdout.writer()`) rather than
 * `process.stdout`: the first use of `process.stdout` builds a Node stream, which costs a short
 * command such as `version` a large share of its start-up (docs/bun-runtime.md#start-up-output).
 * Each write is flushed at once, so text reaches the descriptor in the call when the
 * descriptor takes it, as before; a reader that is slower keeps the rest in the sink's buffer,
 * in order, and `flush` is awaited before the process exits so nothing is lost. A reader that
 * went away (`… | head`) ends that output quietly, as a pipeline expects.
 */
export function createCliOutput(
  out: () => Sink = () => Bun.stdout.writer(),
  err: () => Sink = () => Bun.stderr.writer(),
): CliOutput {
  const stream = (open: () => Sink) => {
    // Opened on first use: most commands never write to stderr.
    let sink: Sink | undefined;
    let closed = false;
    const pending = new Set<Promise<unknown>>();
    const keep = (r: number | Promise<number>) => {
      if (typeof r === "number") return;
      const p: Promise<void> = r.then(
        () => {
          pending.delete(p);
        },
        () => {
          closed = true;
          pending.delete(p);
        },
      );
      pending.add(p);
    };
    return {
      write(text: string) {
        if (closed) return;
        try {
          sink ??= open();
          sink.write(text);
          keep(sink.flush());
        } catch {
          closed = true;
        }
      },
      async done() {
        while (pending.size > 0) await Promise.all([...pending]);
      },
    };
  };
  const o = stream(out);
  const e = stream(err);
  return {
    stdout: o.write,
    stderr: e.write,
    flush: async () => {
      await Promise.all([o.done(), e.done()]);
    },
  };
}
