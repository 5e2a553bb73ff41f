// The whole program: flags and environment in, results on stdout, a failure
// on stderr, and the exit code (the Go user-client's run). The work is the
// library's (@acme/user-client); this file wires it to a command line.
import { createUserServiceClient, exitCode, Redactor, tlsFromFiles, type ClientOptions } from "@acme/user-client";
import { HelpRequested, parse, tokenArgs, usage } from "./config.js";
import * as render from "./render.js";

export type IO = {
  getenv: (name: string) => string | undefined;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  signal: AbortSignal;
};

/** run executes one command line and returns the process exit code. */
export async function run(args: readonly string[], io: IO): Promise<number> {
  // Every token the command line or the environment may hold, parsed or
  // not: a usage error can quote any argument.
  const secrets = [...tokenArgs(args), io.getenv("USER_CLIENT_TOKEN") ?? ""];
  try {
    const cfg = parse(args, io.getenv);
    secrets.push(cfg.token);
    const options: ClientOptions = {
      address: cfg.addrs,
      token: cfg.token,
      timeoutMs: Number(cfg.timeout) / 1e6,
    };
    if (cfg.tls) {
      options.tls = await tlsFromFiles({ caFile: cfg.caFile, certFile: cfg.certFile, keyFile: cfg.keyFile, serverName: cfg.serverName });
    }
    const client = createUserServiceClient(options);
    try {
      for (let i = 0n; i < cfg.count; i++) {
        const resp = await client.getUserDetails({ userId: cfg.user }, { signal: io.signal });
        io.stdout(render.response(cfg.output, resp));
      }
    } finally {
      client.close();
    }
    return exitCode(undefined);
  } catch (err) {
    if (err instanceof HelpRequested) {
      io.stdout(usage());
      return exitCode(undefined);
    }
    const redactor = new Redactor(...secrets);
    io.stderr(render.error(err, (s) => redactor.redact(s)));
    return exitCode(err);
  }
}
