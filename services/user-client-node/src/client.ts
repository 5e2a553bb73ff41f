// The client's channel: one HTTP/2 connection per address through Connect's
// gRPC transport, TLS from files, round-robin over an address list, and
// the Go client's retry policy for UNAVAILABLE.
import { readFile } from "node:fs/promises";
import type { SecureClientSessionOptions } from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { UserService, type GetUserDetailsRequest, type GetUserDetailsResponse } from "../../../gen/es/user/v1/user_pb.js";
import type { Config } from "./config.js";

/** TLS settings; file names are PEM files. */
export type TLSOptions = Pick<Config, "caFile" | "certFile" | "keyFile" | "serverName">;

/** tlsOptions loads the files named in o. */
export async function tlsOptions(o: TLSOptions): Promise<SecureClientSessionOptions> {
  const opts: SecureClientSessionOptions = { minVersion: "TLSv1.2" };
  if (o.serverName !== "") opts.servername = o.serverName;
  if (o.caFile !== "") {
    opts.ca = await readFile(o.caFile).catch((err: Error) => {
      throw new Error(`read CA file: ${err.message}`);
    });
  }
  if (o.certFile !== "" || o.keyFile !== "") {
    try {
      opts.cert = await readFile(o.certFile);
      opts.key = await readFile(o.keyFile);
    } catch (err) {
      throw new Error(`load client certificate: ${(err as Error).message}`);
    }
  }
  return opts;
}

// The Go client's retry policy (conn.ServiceConfig): UNAVAILABLE is retried,
// 4 attempts in all, backoff from 0.1s doubling to 1s with jitter; the
// service is read-only and idempotent. The call's deadline bounds it all.
const maxAttempts = 4;
const initialBackoffMs = 100;
const maxBackoffMs = 1000;

/** Channel calls UserService over one connection per address, round-robin. */
export class Channel {
  private readonly sessions: Http2SessionManager[];
  private readonly clients: Client<typeof UserService>[];
  private next = 0;

  constructor(addrs: string[], tls: SecureClientSessionOptions | undefined) {
    // Keepalive as the Go client: pings only while a call is in flight and
    // has been quiet for 30s, well above user-server's 10s minimum.
    const ping = { pingIntervalMs: 30_000, pingTimeoutMs: 10_000, pingIdleConnection: false };
    this.sessions = addrs.map((a) => new Http2SessionManager(`${tls ? "https" : "http"}://${a}`, ping, tls ?? {}));
    this.clients = this.sessions.map((sessionManager, i) =>
      createClient(
        UserService,
        createGrpcTransport({ baseUrl: `${tls ? "https" : "http"}://${addrs[i] ?? ""}`, sessionManager }),
      ),
    );
  }

  /** getUserDetails makes one call within timeoutMs, retrying UNAVAILABLE. */
  async getUserDetails(req: GetUserDetailsRequest, timeoutMs: number, signal: AbortSignal): Promise<GetUserDetailsResponse> {
    const deadline = Date.now() + timeoutMs;
    let backoff = initialBackoffMs;
    for (let attempt = 1; ; attempt++) {
      const client = this.clients[this.next++ % this.clients.length];
      if (!client) throw new Error("no address");
      try {
        return await client.getUserDetails(req, { timeoutMs: Math.max(1, deadline - Date.now()), signal });
      } catch (err) {
        const ce = transportError(ConnectError.from(err));
        const wait = Math.random() * backoff;
        if (ce.code !== Code.Unavailable || attempt >= maxAttempts || Date.now() + wait >= deadline) throw ce;
        await sleep(wait, undefined, { signal });
        backoff = Math.min(backoff * 2, maxBackoffMs);
      }
    }
  }

  /** close drops every connection. */
  close(): void {
    for (const s of this.sessions) s.abort();
  }
}

// transportError classifies a failure to connect (a Node.js system or TLS
// error, which Connect reports as Internal) as Unavailable, as grpc-go does:
// the server was never reached, and the call may be retried.
function transportError(err: ConnectError): ConnectError {
  const cause: unknown = err.cause;
  if (err.code !== Code.Internal || !(cause instanceof Error) || typeof (cause as NodeJS.ErrnoException).code !== "string") {
    return err;
  }
  const first = cause.message.split("\n")[0]?.trim() ?? "";
  return new ConnectError(`connection error: ${(cause as NodeJS.ErrnoException).code}: ${first}`, Code.Unavailable, undefined, undefined, cause);
}
