// Validation before the wire: the schema's protovalidate rules, checked with
// @bufbuild/protovalidate and rejected locally exactly as user-server
// rejects them (same code, message and violations), so a request the
// server would refuse never leaves the process.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createValidator, violationsToProto, type Violation } from "@bufbuild/protovalidate";

/** validator checks messages against the rules compiled into the generated descriptors. */
export const validator = createValidator();

/**
 * check returns the error user-server would answer the request message
 * with, or undefined if it is valid. Any request message of the contract
 * works: the rules come with its schema.
 */
export function check<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): ConnectError | undefined {
  const r = validator.validate(schema, message);
  switch (r.kind) {
    case "valid":
      return undefined;
    case "error":
      return new ConnectError(`request validation failed: ${r.error.message}`, Code.Internal, undefined, undefined, r.error);
    case "invalid":
      return rejection(r.violations);
  }
}

// tokenField is the request field that carries the caller's credential.
const tokenField = "auth_token";

// rejection mirrors user-server's validationStatus: a missing auth_token is
// Unauthenticated (and the caller learns nothing else about the request);
// any other violation is InvalidArgument carrying every violation.
function rejection(violations: Violation[]): ConnectError {
  const [proto, schema] = violationsToProto(violations);
  const parts: string[] = [];
  for (const v of proto.violations) {
    const field = (v.field?.elements ?? []).map((e) => e.fieldName).join(".");
    if (field === tokenField && v.ruleId === "required") {
      return new ConnectError("missing or invalid auth token", Code.Unauthenticated);
    }
    parts.push(`${field}: ${v.message}`);
  }
  return new ConnectError(`invalid request: ${parts.join("; ")}`, Code.InvalidArgument, undefined, [
    { desc: schema, value: proto },
  ]);
}
