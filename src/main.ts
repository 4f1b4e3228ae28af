#!/usr/bin/env bun
import { COMMANDS } from "./cli/commands.ts";
import { dispatch } from "./cli/dispatch.ts";

const code = await dispatch(process.argv.slice(2), COMMANDS, {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
process.exit(code);
