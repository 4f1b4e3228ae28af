import { z } from "zod";

/**
 * Lenient wire primitives. Perl's JSON encoder emits a value as it was last used, not as the
 * schema says: `nextid` arrives as `"100"`, booleans as 0/1, `cpulimit` as the config string
 * (docs/proxmox-behaviour.md#json-type-quirks). Every response schema builds on these, so the quirks are handled once.
 */

const INT_TEXT = /^-?\d+$/;
const NUMBER_TEXT = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * An integer a JS number holds exactly. A larger one (a disk grown past 8 PiB, say) is refused
 * rather than rounded (docs/proxmox-behaviour.md#per-item-list-decoding).
 */
const exactInt = z
  .number()
  .refine(Number.isInteger, { message: "expected an integer", abort: true })
  .refine(Number.isSafeInteger, {
    message: "larger than 2^53 - 1, cannot be read exactly",
  });

/** An integer sent as a JSON number or a decimal string. */
export const lenientInt = z.union([
  exactInt,
  z
    .string()
    .trim()
    .regex(INT_TEXT, "expected an integer")
    .transform((s) => Number(s))
    .pipe(exactInt),
]);

/** A finite number sent as a JSON number or a decimal string. */
export const lenientNumber = z.union([
  z.number(),
  z
    .string()
    .trim()
    .regex(NUMBER_TEXT, "expected a number")
    .transform((s) => Number(s)),
]);

/** A boolean sent as true/false, 0/1 or "0"/"1" (docs/proxmox-behaviour.md#json-type-quirks). */
export const lenientBool = z.union([
  z.boolean(),
  z.literal(0).transform(() => false),
  z.literal(1).transform(() => true),
  z.literal("0").transform(() => false),
  z.literal("1").transform(() => true),
]);

/** A string that PVE may send as a number (e.g. a task `id` or `vmid` in older releases). */
export const lenientString = z.union([z.string(), z.number().transform((n) => String(n))]);

/** A value that is kept as the wire text: config values are strings or numbers on the wire. */
export const wireScalar = z.union([z.string(), z.number(), z.boolean()]);
