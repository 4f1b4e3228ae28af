import { describe, expect, test } from "bun:test";
import { parseJsonOrUndefined } from "../../src/util/parse-json-or-undefined.ts";

describe("parseJsonOrUndefined", () => {
  test("parses JSON text", () => {
    expect(parseJsonOrUndefined('{"data":[1,"a",null]}')).toEqual({ data: [1, "a", null] });
    expect(parseJsonOrUndefined("null")).toBeNull();
  });

  test("an empty body is undefined", () => {
    expect(parseJsonOrUndefined("")).toBeUndefined();
  });

  test("text that is not JSON is undefined, not a thrown SyntaxError", () => {
    expect(parseJsonOrUndefined("<html>502 Bad Gateway</html>")).toBeUndefined();
    expect(parseJsonOrUndefined('{"data":')).toBeUndefined();
  });
});
