/**
 * The sub-checks of one demo step: each is printed as it is decided, and the step behaved only
 * if every one held.
 */
export interface Checklist {
  /** Prints `[ ok ]` or `[FAIL]` before `label` and remembers a failure; returns `ok`. */
  check(label: string, ok: boolean): boolean;
  /** Labels of the checks that failed, in order. */
  readonly failed: readonly string[];
}

export function checklist(out: (text: string) => void, indent = "    "): Checklist {
  const failed: string[] = [];
  return {
    check(label, ok) {
      out(`${indent}[${ok ? " ok " : "FAIL"}] ${label}\n`);
      if (!ok) failed.push(label);
      return ok;
    },
    failed,
  };
}
