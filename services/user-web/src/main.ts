// The lookup page: validates the request with the contract's rules (the
// same check as the Node client, @acme/user-client/validation), then calls
// GetUserDetails over the Connect protocol (JSON) with the token in an
// Authorization: Bearer header, never in the URL.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { UserService, GetUserDetailsRequestSchema } from "@acme/user-proto/user/v1/user_pb.js";
import { check } from "@acme/user-client/validation";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const api = $<HTMLInputElement>("api");
const result = $<HTMLPreElement>("result");

// ?api=URL presets the server; else the walkthrough's local default.
api.value = new URLSearchParams(location.search).get("api") ?? "http://127.0.0.1:8080";

function show(text: string, error: boolean) {
  result.textContent = text;
  result.className = error ? "error" : "";
}

// describe renders an error as the CLI does: code, message, then each
// violation from the details (present for InvalidArgument).
function describe(err: ConnectError): string {
  const lines = [`Error: ${Code[err.code]}: ${err.rawMessage}`];
  for (const vs of err.findDetails(ViolationsSchema)) {
    for (const v of vs.violations) {
      const field = (v.field?.elements ?? []).map((e) => e.fieldName).join(".");
      lines.push(`  ${field}: ${v.message} [${v.ruleId}]`);
    }
  }
  return lines.join("\n");
}

$<HTMLFormElement>("lookup-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const userId = $<HTMLInputElement>("user").value;
  const authToken = $<HTMLInputElement>("token").value;
  const invalid = check(GetUserDetailsRequestSchema, create(GetUserDetailsRequestSchema, { userId, authToken }));
  if (invalid) {
    show(describe(invalid) + "\n(not sent: the request breaks the contract's rules)", true);
    return;
  }
  show("…", false);
  const client = createClient(UserService, createConnectTransport({ baseUrl: api.value }));
  try {
    const res = await client.getUserDetails(
      { userId },
      { headers: { Authorization: `Bearer ${authToken}` }, timeoutMs: 5000 },
    );
    show(`Response:\nName: ${res.name}\nEmail: ${res.email}\nStatus: ${res.status}`, false);
  } catch (e) {
    show(describe(ConnectError.from(e)), true);
  }
});
