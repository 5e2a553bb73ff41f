// The shared validation corpus (testdata/validation/cases.json), checked with
// @bufbuild/protovalidate as the client runs it; the Go test in
// services/user-server checks the same file with the server's validator.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { violationsToProto } from "@bufbuild/protovalidate";
import { GetUserDetailsRequestSchema } from "../../../gen/es/user/v1/user_pb.js";
import { validator } from "../src/validation.js";
import { repoFile } from "./harness.js";

type Part = string | { repeat: string; times: number };
type Value = string | Part[];
type Case = {
  name: string;
  request: { user_id: Value; auth_token: Value };
  violations: { field: string; rule: string; message: string }[];
};

function value(v: Value): string {
  if (typeof v === "string") return v;
  return v.map((p) => (typeof p === "string" ? p : p.repeat.repeat(p.times))).join("");
}

const corpus = JSON.parse(readFileSync(repoFile("testdata/validation/cases.json"), "utf8")) as { cases: Case[] };

test("the corpus holds at least 25 cases", () => {
  assert.ok(corpus.cases.length >= 25, `${corpus.cases.length} cases`);
});

for (const c of corpus.cases) {
  test(`corpus: ${c.name}`, () => {
    const req = create(GetUserDetailsRequestSchema, {
      userId: value(c.request.user_id),
      authToken: value(c.request.auth_token),
    });
    const r = validator.validate(GetUserDetailsRequestSchema, req);
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
