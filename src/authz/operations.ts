import { z } from "zod";
import { OP_NAMES } from "../ops/types.ts";

// The vocabulary itself lives in src/ops/types.ts, shared with the planner, jobs and the local
// API; envelopes validate `op` against it.
export { isOpName, OP_NAMES, type OpName } from "../ops/types.ts";

export const opNameSchema = z.enum(OP_NAMES);
