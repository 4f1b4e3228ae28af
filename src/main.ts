#!/usr/bin/env bun
import { COMMANDS } from "./cli/commands.ts";
import { dispatch } from "./cli/dispatch.ts";
import { createCliOutput } from "./cli/output.ts";

const output = createCliOutput();
const code = await dispatch(process.argv.slice(2), COMMANDS, {
  env: process.env,
  stdout: output.stdout,
  stderr: output.stderr,
});
await output.flush();
process.exit(code);
