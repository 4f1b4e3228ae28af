#!/usr/bin/env bun
// @peculiar/x509 (certificates) needs the Reflect metadata polyfill loaded before it, and the
// bundler may order a lazily imported module's imports differently: load it first, here.
import "reflect-metadata";
import { COMMANDS } from "./cli/commands.ts";
import { dispatch } from "./cli/dispatch.ts";

const code = await dispatch(process.argv.slice(2), COMMANDS, {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
process.exit(code);
