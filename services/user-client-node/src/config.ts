// Command line and environment into a checked configuration, with the Go
// user-client's flags, USER_CLIENT_* fallbacks, checks in the same order
// and the same messages (services/user-client/internal/config): the flag
// package's syntax, Go's number and duration syntax, %q quoting. Flags win
// over environment variables, which win over the defaults.
import { parseAddresses, quote, UsageError } from "@acme/user-client";
import { formatDuration, parseBool, parseDuration, parseInt64, ValueError } from "./gostrconv.js";
import { isUTF8 } from "./rawargs.js";

export const DEFAULT_ADDR = "127.0.0.1:50051";
export const DEFAULT_USER = "john123";
export const DEFAULT_TOKEN = "valid-token";
/** 5s, in nanoseconds. */
export const DEFAULT_TIMEOUT = 5_000_000_000n;

export type Output = "text" | "json";

export type Config = {
  /** host:port addresses; several are used round-robin, one per call. */
  addrs: string[];
  user: string;
  token: string;
  /** The deadline of each call, in nanoseconds (Go's time.Duration). */
  timeout: bigint;
  tls: boolean;
  caFile: string;
  certFile: string;
  keyFile: string;
  serverName: string;
  output: Output;
  count: bigint;
};

/** Thrown by parse for --help: print usage, exit 0. */
export class HelpRequested extends Error {
  override name = "HelpRequested";
}

type Kind = "string" | "bool" | "duration" | "int";
type Value = string | boolean | bigint;

// Flag name → value kind and environment fallback (as the Go client).
const flags: Record<string, { kind: Kind; env: string }> = {
  addr: { kind: "string", env: "USER_CLIENT_ADDR" },
  user: { kind: "string", env: "USER_CLIENT_USER" },
  token: { kind: "string", env: "USER_CLIENT_TOKEN" },
  timeout: { kind: "duration", env: "USER_CLIENT_TIMEOUT" },
  tls: { kind: "bool", env: "USER_CLIENT_TLS" },
  ca: { kind: "string", env: "USER_CLIENT_CA" },
  cert: { kind: "string", env: "USER_CLIENT_CERT" },
  key: { kind: "string", env: "USER_CLIENT_KEY" },
  "server-name": { kind: "string", env: "USER_CLIENT_SERVER_NAME" },
  output: { kind: "string", env: "USER_CLIENT_OUTPUT" },
  count: { kind: "int", env: "USER_CLIENT_COUNT" },
};

// The Go client's flags that this one does not have (see the README); their
// environment variables are ignored, so one environment can serve both.
const goOnly = new Set(["health", "health-service", "otlp-endpoint"]);

function parseValue(kind: Kind, s: string): Value {
  switch (kind) {
    case "string":
      return s;
    case "bool":
      return parseBool(s);
    case "duration":
      return parseDuration(s);
    case "int":
      return parseInt64(s);
  }
}

/**
 * parse reads args (without the program name) and getenv into a Config as
 * Go's flag package does: -name or --name, "=value" or a separate value
 * (bool flags take only "=value"), "--" ending the flags. Errors are
 * UsageErrors.
 */
export function parse(args: readonly string[], getenv: (name: string) => string | undefined): Config {
  const values = new Map<string, Value>();
  let i = 0;
  for (; i < args.length; i++) {
    const s = args[i] ?? "";
    if (s.length < 2 || s[0] !== "-") break;
    let minuses = 1;
    if (s[1] === "-") {
      minuses = 2;
      if (s.length === 2) {
        i++; // "--" ends the flags
        break;
      }
    }
    let name = s.slice(minuses);
    if (name === "" || name[0] === "-" || name[0] === "=") throw new UsageError(`bad flag syntax: ${s}`);
    let value: string | undefined;
    const eq = name.indexOf("=", 1);
    if (eq > 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const spec = flags[name];
    if (!spec) {
      if (name === "help" || name === "h") throw new HelpRequested();
      if (goOnly.has(name)) throw new UsageError(`flag -${name} is the Go client's (user-client); user-client-node does not have it`);
      throw new UsageError(`flag provided but not defined: -${name}`);
    }
    if (spec.kind === "bool") {
      try {
        values.set(name, parseValue("bool", value ?? "true"));
      } catch (err) {
        if (value === undefined) throw new UsageError(`invalid boolean flag ${name}: ${(err as Error).message}`);
        throw new UsageError(`invalid boolean value ${quote(value)} for -${name}: ${(err as Error).message}`);
      }
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= args.length) throw new UsageError(`flag needs an argument: -${name}`);
      value = args[++i] ?? "";
    }
    try {
      values.set(name, parseValue(spec.kind, value));
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      throw new UsageError(`invalid value ${quote(value)} for flag -${name}: ${err.message}`);
    }
  }
  if (i < args.length) throw new UsageError(`unexpected argument ${quote(args[i] ?? "")}`);

  // Environment fallbacks go through the same parsers as the flags.
  for (const [name, spec] of Object.entries(flags)) {
    const v = getenv(spec.env);
    if (values.has(name) || v === undefined || v === "") continue;
    try {
      values.set(name, parseValue(spec.kind, v));
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      // Never echo a secret, even a malformed one.
      if (name === "token") throw new UsageError(`invalid ${spec.env}`);
      throw new UsageError(`invalid ${spec.env}=${quote(v)}: ${err.message}`);
    }
  }

  const str = (name: string, def: string) => (values.get(name) as string | undefined) ?? def;
  const c: Config = {
    addrs: parseAddresses(str("addr", DEFAULT_ADDR), "--addr"),
    user: str("user", DEFAULT_USER),
    token: str("token", DEFAULT_TOKEN),
    timeout: (values.get("timeout") as bigint | undefined) ?? DEFAULT_TIMEOUT,
    tls: (values.get("tls") as boolean | undefined) ?? false,
    caFile: str("ca", ""),
    certFile: str("cert", ""),
    keyFile: str("key", ""),
    serverName: str("server-name", ""),
    output: "text",
    count: (values.get("count") as bigint | undefined) ?? 1n,
  };
  // Protobuf strings are UTF-8: the call could not even be encoded.
  if (!isUTF8(c.user)) throw new UsageError(`--user ${quote(c.user)} is not valid UTF-8`);
  if (!isUTF8(c.token)) throw new UsageError("--token is not valid UTF-8");
  if (c.timeout <= 0n) throw new UsageError(`--timeout must be positive, got ${formatDuration(c.timeout)}`);
  const output = str("output", "text");
  if (output !== "text" && output !== "json") {
    throw new UsageError(`--output must be "text" or "json", got ${quote(output)}`);
  }
  c.output = output;
  if (c.count < 1n) throw new UsageError(`--count must be at least 1, got ${c.count}`);
  if ((c.certFile === "") !== (c.keyFile === "")) throw new UsageError("--cert and --key must be given together");
  // Any TLS setting means the user wants TLS; silently dialling in
  // plaintext instead would be a surprise.
  if (c.caFile !== "" || c.certFile !== "" || c.serverName !== "") c.tls = true;
  return c;
}

/**
 * tokenArgs returns every value that may be a --token's in args, found
 * without parsing them, so that a usage error can be redacted even when
 * parsing failed before the token was read (for example "--user --token
 * SECRET", where SECRET is a stray argument, or "--user -- --token SECRET",
 * where "--" is --user's value). It looks past "--": nothing after it is a
 * valid argument anyway, so redacting there costs nothing.
 */
export function tokenArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    if (!a.startsWith("-")) return;
    const body = a.replace(/^-+/, "");
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    if (name !== "token") return;
    if (eq >= 0) out.push(body.slice(eq + 1));
    else if (i + 1 < args.length) out.push(args[i + 1] ?? "");
  });
  return out;
}

/** usage is the --help text. */
export function usage(): string {
  return `Usage: user-client-node [flags]

Calls user.v1.UserService/GetUserDetails and prints the result. Every flag can
also be set through the environment variable shown; a flag given on the
command line wins. Requests are validated against the schema's rules before
they are sent.

Flags:
  --addr TARGET        server address (USER_CLIENT_ADDR, default ${DEFAULT_ADDR}).
                       host:port or dns:///host:port, or a comma-separated
                       list of host:port used round-robin, one per call.
                       An IPv6 address goes in brackets: [::1]:50051.
  --user ID            user id to look up (USER_CLIENT_USER, default ${DEFAULT_USER})
  --token TOKEN        auth token (USER_CLIENT_TOKEN, default the demo token).
                       Never printed; prefer the environment variable, which
                       other users cannot see in the process list.
  --timeout DURATION   deadline of each call (USER_CLIENT_TIMEOUT, default ${formatDuration(DEFAULT_TIMEOUT)});
                       the server is sent at most 27h46m39.999s, the most
                       the gRPC wire format carries in milliseconds
  --tls                use TLS, verified against the system roots unless --ca
                       (USER_CLIENT_TLS)
  --ca FILE            PEM CA bundle to verify the server (USER_CLIENT_CA)
  --cert FILE          PEM client certificate for mTLS (USER_CLIENT_CERT)
  --key FILE           PEM client key for mTLS (USER_CLIENT_KEY)
  --server-name NAME   name to verify the server certificate against
                       (USER_CLIENT_SERVER_NAME, default the address's host)
                       --ca, --cert, --key and --server-name imply --tls.
  --output FORMAT      text or json (USER_CLIENT_OUTPUT, default text)
  --count N            make N calls, printing each result
                       (USER_CLIENT_COUNT, default 1)
  --help               show this help

The Go client's --health, --health-service and --otlp-endpoint are not
available here (their variables are ignored): use user-client for those.

Errors are printed on stderr as one line "error: <code>: <message>", followed
by one line per field violation.

Exit codes:
  0  success
  1  any other error
  2  usage error (bad flag, argument or environment variable)
  3  Unauthenticated
  4  NotFound
  5  InvalidArgument
  6  Unavailable or DeadlineExceeded (server down, unreachable or too slow)
`;
}
