// Command line and environment into a checked configuration, with the Go
// user-client's flags, USER_CLIENT_* fallbacks and messages. Flags win over
// environment variables, which win over the defaults.

export const DEFAULT_ADDR = "127.0.0.1:50051";
export const DEFAULT_USER = "john123";
export const DEFAULT_TOKEN = "valid-token";
export const DEFAULT_TIMEOUT_MS = 5000;

export type Output = "text" | "json";

export type Config = {
  /** host:port addresses; several are used round-robin, one per call. */
  addrs: string[];
  user: string;
  token: string;
  timeoutMs: number;
  tls: boolean;
  caFile: string;
  certFile: string;
  keyFile: string;
  serverName: string;
  output: Output;
  count: number;
};

/** A bad command line or environment (exit code 2). */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Thrown by parse for --help: print usage, exit 0. */
export class HelpRequested extends Error {
  override name = "HelpRequested";
}

type Kind = "string" | "bool" | "duration" | "int";

// Flag name → value kind and environment fallback (as the Go client).
const flags: Record<string, { kind: Kind; env?: string }> = {
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

type Value = string | boolean | number;

// Go's flag package's value parsers; their failures read "parse error".
function parseValue(kind: Kind, s: string): Value {
  switch (kind) {
    case "string":
      return s;
    case "bool":
      if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
      if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
      throw new Error("parse error");
    case "duration":
      return parseDuration(s);
    case "int":
      if (!/^[+-]?\d+$/.test(s)) throw new Error("parse error");
      return Number(s);
  }
}

const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** parseDuration reads Go's time.ParseDuration syntax ("5s", "1m30s", "250ms") into milliseconds. */
export function parseDuration(s: string): number {
  const m = /^([+-]?)(.*)$/.exec(s);
  const sign = m?.[1] === "-" ? -1 : 1;
  const rest = m?.[2] ?? "";
  if (rest === "0") return 0;
  const part = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < rest.length) {
    part.lastIndex = pos;
    const p = part.exec(rest);
    if (!p) throw new Error("parse error");
    total += Number(p[1]) * (unitMs[p[2] ?? ""] ?? 0);
    pos = part.lastIndex;
  }
  if (rest === "") throw new Error("parse error");
  return sign * total;
}

/** formatDuration writes milliseconds the way Go's time.Duration prints. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(ms);
  if (rest < 1) return `${sign}${Number((rest * 1000).toPrecision(12))}µs`;
  if (rest < 1000) return `${sign}${Number(rest.toPrecision(12))}ms`;
  let out = "";
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  return `${sign}${out}${Number((rest / 1000).toPrecision(12))}s`;
}

/**
 * parse reads args (without the program name) and getenv into a Config,
 * accepting what Go's flag package accepts: -name or --name, "=value" or a
 * separate value (bool flags take only "=value"), "--" ending the flags.
 */
export function parse(args: string[], getenv: (name: string) => string | undefined): Config {
  const values = new Map<string, Value>();
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    const body = arg.replace(/^--?/, "");
    if (body === "" || body.startsWith("-") || body.startsWith("=")) throw new UsageError(`bad flag syntax: ${arg}`);
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    if (name === "h" || name === "help") throw new HelpRequested();
    const spec = flags[name];
    if (!spec) throw new UsageError(`flag provided but not defined: -${name}`);
    let raw: string;
    if (eq >= 0) {
      raw = body.slice(eq + 1);
    } else if (spec.kind === "bool") {
      raw = "true";
    } else {
      const next = args[i + 1];
      if (next === undefined) throw new UsageError(`flag needs an argument: -${name}`);
      raw = next;
      i++;
    }
    try {
      values.set(name, parseValue(spec.kind, raw));
    } catch (err) {
      const shown = name === "token" ? "" : ` ${JSON.stringify(raw)}`;
      throw new UsageError(`invalid value${shown} for flag -${name}: ${(err as Error).message}`);
    }
  }
  if (i < args.length) throw new UsageError(`unexpected argument ${JSON.stringify(args[i])}`);

  // Environment fallbacks go through the same parsers as the flags.
  for (const [name, spec] of Object.entries(flags)) {
    const v = spec.env ? getenv(spec.env) : undefined;
    if (values.has(name) || !v || !spec.env) continue;
    try {
      values.set(name, parseValue(spec.kind, v));
    } catch (err) {
      // Never echo a secret, even a malformed one.
      if (name === "token") throw new UsageError(`invalid ${spec.env}`);
      throw new UsageError(`invalid ${spec.env}=${JSON.stringify(v)}: ${(err as Error).message}`);
    }
  }

  const str = (name: string, def: string) => (values.get(name) as string | undefined) ?? def;
  const c: Config = {
    addrs: splitAddrs(str("addr", DEFAULT_ADDR)),
    user: str("user", DEFAULT_USER),
    token: str("token", DEFAULT_TOKEN),
    timeoutMs: (values.get("timeout") as number | undefined) ?? DEFAULT_TIMEOUT_MS,
    tls: (values.get("tls") as boolean | undefined) ?? false,
    caFile: str("ca", ""),
    certFile: str("cert", ""),
    keyFile: str("key", ""),
    serverName: str("server-name", ""),
    output: "text",
    count: (values.get("count") as number | undefined) ?? 1,
  };
  if (c.timeoutMs <= 0) throw new UsageError(`--timeout must be positive, got ${formatDuration(c.timeoutMs)}`);
  const output = str("output", "text");
  if (output !== "text" && output !== "json") {
    throw new UsageError(`--output must be "text" or "json", got ${JSON.stringify(output)}`);
  }
  c.output = output;
  if (c.count < 1) throw new UsageError(`--count must be at least 1, got ${c.count}`);
  if ((c.certFile === "") !== (c.keyFile === "")) throw new UsageError("--cert and --key must be given together");
  // Any TLS setting means the user wants TLS; silently dialling in
  // plaintext instead would be a surprise.
  if (c.caFile !== "" || c.certFile !== "" || c.serverName !== "") c.tls = true;
  return c;
}

// splitAddrs accepts host:port (or dns:///host:port, the Go client's
// default resolver spelled out), or a comma-separated list of host:port.
function splitAddrs(s: string): string[] {
  s = s.trim();
  if (s === "") throw new UsageError("--addr must not be empty");
  const list = s.includes(",");
  return s.split(",").map((a) => {
    a = a.trim();
    if (!list && a.startsWith("dns:///")) a = a.slice("dns:///".length);
    const m = /^(\[[^\]]*\]|[^:[\]]+):(\d+)$/.exec(a);
    if (!m) {
      throw new UsageError(
        list
          ? `--addr list entry ${JSON.stringify(a)}: want host:port (targets with a scheme work only on their own)`
          : `--addr ${JSON.stringify(a)}: want host:port or dns:///host:port (the Node client has no other resolvers)`,
      );
    }
    return a;
  });
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
  --user ID            user id to look up (USER_CLIENT_USER, default ${DEFAULT_USER})
  --token TOKEN        auth token (USER_CLIENT_TOKEN, default the demo token).
                       Never printed; prefer the environment variable, which
                       other users cannot see in the process list.
  --timeout DURATION   deadline of each call (USER_CLIENT_TIMEOUT, default ${formatDuration(DEFAULT_TIMEOUT_MS)})
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
