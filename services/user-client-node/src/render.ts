// Output for people (text) and scripts (JSON, one-line errors), as the Go
// user-client prints them (services/user-client/internal/render).
import { toJsonString } from "@bufbuild/protobuf";
import { ViolationsSchema, type FieldPath, type Violation } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError, escape, oneLine, quote, UsageError } from "@acme/user-client";
import { GetUserDetailsResponseSchema, type GetUserDetailsResponse } from "@acme/user-proto/user/v1/user_pb.js";
import type { Output } from "./config.js";

/** response formats one GetUserDetails response. */
export function response(format: Output, resp: GetUserDetailsResponse): string {
  if (format === "json") {
    // Every field present, so scripts can rely on the keys (as protojson
    // with EmitUnpopulated in the Go client).
    return toJsonString(GetUserDetailsResponseSchema, resp, { alwaysEmitImplicit: true }) + "\n";
  }
  // The reference run's exact layout. The fields come from the server:
  // anything not graphic is escaped, so a hostile value can neither drive
  // the terminal nor forge lines.
  return `Response:\nName: ${escape(resp.name)}\nEmail: ${escape(resp.email)}\nStatus: ${escape(resp.status)}\n`;
}

/**
 * error formats err as one line "error: <code>: <message>", then one line per
 * field violation carried in the status details (buf.validate.Violations).
 * redact is applied to all text that came from the server, the command line
 * or the environment, before it is made one line, so that a secret is masked
 * whatever characters it holds.
 */
export function error(err: unknown, redact: (s: string) => string): string {
  const clean = (s: string) => oneLine(redact(s));
  if (err instanceof UsageError) return `error: usage: ${clean(err.message)} (see --help)\n`;
  if (!(err instanceof ConnectError)) return `error: ${clean(err instanceof Error ? err.message : String(err))}\n`;
  let out = `error: ${Code[err.code]}: ${clean(err.rawMessage)}\n`;
  for (const vs of err.findDetails(ViolationsSchema)) {
    for (const v of vs.violations) out += `  ${clean(violation(v))}\n`;
  }
  return out;
}

/** violation formats one violation as "<field path>: <message> [<rule id>]". */
export function violation(v: Violation): string {
  let s = "";
  const p = fieldPath(v.field);
  if (p !== "") s += `${p}: `;
  s += v.message;
  if (v.ruleId !== "") s += ` [${v.ruleId}]`;
  return s;
}

/** fieldPath formats a path like protovalidate: names joined by dots, with [index] or [key] subscripts. */
export function fieldPath(p: FieldPath | undefined): string {
  return (p?.elements ?? [])
    .map((e) => {
      const s = e.subscript;
      switch (s.case) {
        case "index":
        case "intKey":
        case "uintKey":
          return `${e.fieldName}[${s.value.toString()}]`;
        case "boolKey":
          return `${e.fieldName}[${s.value}]`;
        case "stringKey":
          return `${e.fieldName}[${quote(s.value)}]`;
        default:
          return e.fieldName;
      }
    })
    .join(".");
}
