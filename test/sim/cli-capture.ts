/** An io for `runSimCommand` that keeps what the command printed, for the sim CLI tests. */
export function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s) },
    out,
    err,
  };
}
