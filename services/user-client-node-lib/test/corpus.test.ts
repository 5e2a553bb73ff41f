// The shared validation corpus (testdata/validation/cases.json), checked with
// the library's validator; the Go test in services/user-server checks the
// same file with the server's validator.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRegistry, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { violationsToProto } from "@bufbuild/protovalidate";
import { file_user_v1_user } from "@acme/user-proto/user/v1/user_pb.js";
import { validator } from "../src/validation.js";
import { repoFile } from "./harness.js";

type Case = {
  name: string;
  message: string;
  request: JsonValue;
  violations: { field: string; rule: string; message: string }[];
};

// Every request message of the contract's files.
const registry = createRegistry(file_user_v1_user);

// expandConcat replaces each {"$concat": [parts]} by the string its parts
// make (a part is a string or {"repeat": S, "times": N}).
function expandConcat(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(expandConcat);
  if (v === null || typeof v !== "object") return v;
  const parts = v["$concat"];
  if (parts !== undefined) {
    assert.ok(Array.isArray(parts) && Object.keys(v).length === 1, `{"$concat": [...]} takes a list and nothing else`);
    return parts
      .map((p) => {
        if (typeof p === "string") return p;
        assert.ok(p !== null && typeof p === "object" && !Array.isArray(p) && typeof p["repeat"] === "string" && typeof p["times"] === "number");
        return (p["repeat"] as string).repeat(p["times"] as number);
      })
      .join("");
  }
  return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, expandConcat(e)]));
}

const corpus = JSON.parse(readFileSync(repoFile("testdata/validation/cases.json"), "utf8")) as { cases: Case[] };

test("the corpus holds at least 25 cases", () => {
  assert.ok(corpus.cases.length >= 25, `${corpus.cases.length} cases`);
});

for (const c of corpus.cases) {
  test(`corpus: ${c.name}`, () => {
    const schema = registry.getMessage(c.message);
    assert.ok(schema, `no message ${c.message} in the contract`);
    const req = fromJson(schema, expandConcat(c.request));
    const r = validator.validate(schema, req);
    assert.notEqual(r.kind, "error", r.error?.message);
    const got =
      r.kind === "invalid"
        ? violationsToProto(r.violations)[0].violations.map((v) => ({
            field: (v.field?.elements ?? []).map((e) => e.fieldName).join("."),
            rule: v.ruleId,
            message: v.message,
          }))
        : [];
    assert.deepEqual(got, c.violations);
  });
}
