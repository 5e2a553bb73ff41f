// Output for people (text) and scripts (JSON, one-line errors), as the Go
// user-client prints them.
import { toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ViolationsSchema, type FieldPath, type Violation } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { GetUserDetailsResponseSchema, type GetUserDetailsResponse } from "../../../gen/es/user/v1/user_pb.js";
import { UsageError, type Output } from "./config.js";

/** response formats one GetUserDetails response. */
export function response(format: Output, resp: GetUserDetailsResponse): string {
  if (format === "json") {
    // Every field present, so scripts can rely on the keys (as protojson
    // with EmitUnpopulated in the Go client).
    return toJsonString(GetUserDetailsResponseSchema, resp, { alwaysEmitImplicit: true }) + "\n";
  }
  // The reference run's exact layout.
  return `Response:\nName: ${resp.name}\nEmail: ${resp.email}\nStatus: ${resp.status}\n`;
}

/**
 * error formats err as one line "error: <code>: <message>", then one line per
 * field violation carried in the status details (buf.validate.Violations).
 * redact is applied to all text that came from the server or the
 * environment, so that a secret a server echoes back is not printed.
 */
export function error(err: unknown, redact: (s: string) => string): string {
  if (err instanceof UsageError) return `error: usage: ${redact(oneLine(err.message))} (see --help)\n`;
  if (!(err instanceof ConnectError)) {
    return `error: ${redact(oneLine(err instanceof Error ? err.message : String(err)))}\n`;
  }
  let out = `error: ${Code[err.code]}: ${redact(oneLine(err.rawMessage))}\n`;
  for (const vs of err.findDetails(ViolationsSchema)) {
    for (const v of vs.violations) out += `  ${redact(oneLine(violation(v)))}\n`;
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
          return `${e.fieldName}[${JSON.stringify(s.value)}]`;
        default:
          return e.fieldName;
      }
    })
    .join(".");
}

// oneLine keeps a server-provided message on one line and free of terminal
// control sequences.
function oneLine(s: string): string {
  return s.replace(/\p{Cc}/gu, " ");
}
