// The client: one HTTP/2 connection per address through Connect's gRPC
// transport, TLS, round-robin over an address list, the Go client's retry
// policy for UNAVAILABLE, a deadline on every call that the wire can carry,
// and validation before the wire.
import { readFile } from "node:fs/promises";
import type { SecureClientSessionOptions } from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  GetUserDetailsRequestSchema,
  UserService,
  type GetUserDetailsResponse,
} from "@acme/user-proto/user/v1/user_pb.js";
import { parseAddresses } from "./address.js";
import { UsageError } from "./errors.js";
import { check } from "./validation.js";

/** The deadline of a call when none is given: the Go client's default. */
export const DEFAULT_TIMEOUT_MS = 5000;

/**
 * The longest deadline the wire carries: Connect sends grpc-timeout in
 * milliseconds, and the gRPC spec allows at most 8 digits (about 27.8
 * hours); servers refuse a longer header. Longer timeouts are capped.
 */
export const MAX_TIMEOUT_MS = 99_999_999;

/** Retries of UNAVAILABLE: the service is read-only and idempotent. */
export type RetryPolicy = {
  /** Attempts in all, the first included (1: no retry). */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  backoffMultiplier: number;
};

/** The Go client's policy (its conn.ServiceConfig). */
export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 4,
  initialBackoffMs: 100,
  maxBackoffMs: 1000,
  backoffMultiplier: 2,
});

/** TLS settings: PEM contents (see tlsFromFiles for file names). */
export type TLSConfig = {
  /** CA bundle to verify the server with, instead of the system roots. */
  ca?: string | Uint8Array;
  /** Client certificate and key, for mTLS; both or neither. */
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
  /** Name to verify the server certificate against, instead of the address's host. */
  serverName?: string;
};

export type ClientOptions = {
  /**
   * host:port, dns:///host:port, or several host:port (an array or a
   * comma-separated list) used round-robin, one per call.
   */
  address: string | readonly string[];
  /** true: TLS verified against the system roots; a TLSConfig; absent or false: plaintext HTTP/2. */
  tls?: boolean | TLSConfig;
  /** The auth token sent with each request whose authToken is empty. */
  token?: string;
  /** Deadline of each call in milliseconds (default DEFAULT_TIMEOUT_MS, at most MAX_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Retries of UNAVAILABLE (default DEFAULT_RETRY); false: none. */
  retry?: Partial<RetryPolicy> | false;
  /** Check each request against the schema's rules before sending it (default true). */
  validate?: boolean;
};

/** Per-call options. */
export type CallOptions = {
  /** This call's deadline in milliseconds, instead of the client's. */
  timeoutMs?: number;
  /** Aborts the call (and its retries). */
  signal?: AbortSignal;
};

export type GetUserDetailsInit = MessageInitShape<typeof GetUserDetailsRequestSchema>;

/** A client of user.v1.UserService. */
export interface UserServiceClient {
  /**
   * getUserDetails looks up a user. It rejects with a ConnectError (the
   * server's answer, or the one it would give to an invalid request) or a
   * UsageError (a bad timeout); exitCode maps either to the CLI's exit code.
   */
  getUserDetails(request: GetUserDetailsInit, options?: CallOptions): Promise<GetUserDetailsResponse>;
  /** close drops every connection; calls after it fail. */
  close(): void;
}

/**
 * tlsFromFiles reads PEM files into a TLSConfig, with the Go client's
 * errors: "read CA file: ...", "load client certificate: ...".
 */
export async function tlsFromFiles(files: {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
}): Promise<TLSConfig> {
  const c: TLSConfig = {};
  if (files.serverName) c.serverName = files.serverName;
  if (files.caFile) {
    c.ca = await readFile(files.caFile).catch((err: Error) => {
      throw new Error(`read CA file: ${err.message}`);
    });
  }
  if (files.certFile || files.keyFile) {
    if (!files.certFile || !files.keyFile) throw new UsageError("a client certificate needs both its file and its key's");
    try {
      c.cert = await readFile(files.certFile);
      c.key = await readFile(files.keyFile);
    } catch (err) {
      throw new Error(`load client certificate: ${(err as Error).message}`);
    }
  }
  return c;
}

/**
 * timeoutFor checks a deadline and returns what is sent: whole
 * milliseconds, at least 1, at most MAX_TIMEOUT_MS.
 */
export function timeoutFor(ms: number): number {
  if (!(ms > 0)) throw new UsageError(`timeout must be positive, got ${ms}ms`);
  return Math.min(Math.ceil(ms), MAX_TIMEOUT_MS);
}

function sessionOptions(tls: ClientOptions["tls"]): SecureClientSessionOptions | undefined {
  if (!tls) return undefined;
  const o: SecureClientSessionOptions = { minVersion: "TLSv1.2" };
  if (tls === true) return o;
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new UsageError("a client certificate needs both cert and key");
  }
  if (tls.serverName) o.servername = tls.serverName;
  if (tls.ca !== undefined) o.ca = typeof tls.ca === "string" ? tls.ca : Buffer.from(tls.ca);
  if (tls.cert !== undefined) o.cert = typeof tls.cert === "string" ? tls.cert : Buffer.from(tls.cert);
  if (tls.key !== undefined) o.key = typeof tls.key === "string" ? tls.key : Buffer.from(tls.key);
  return o;
}

/**
 * createUserServiceClient creates a client for options.address. It does not
 * connect: the first call does. Bad options throw a UsageError.
 */
export function createUserServiceClient(options: ClientOptions): UserServiceClient {
  return new Channel(options);
}

// Keepalive as the Go client: pings only while a call is in flight and has
// been quiet for 30s, well above user-server's 10s minimum.
const ping = { pingIntervalMs: 30_000, pingTimeoutMs: 10_000, pingIdleConnection: false };

class Channel implements UserServiceClient {
  private readonly sessions: Http2SessionManager[];
  private readonly clients: Client<typeof UserService>[];
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly validate: boolean;
  private next = 0;

  constructor(o: ClientOptions) {
    const addrs = typeof o.address === "string" ? parseAddresses(o.address) : o.address.flatMap((a) => parseAddresses(a));
    if (addrs.length === 0) throw new UsageError("address must not be empty");
    this.token = o.token ?? "";
    this.timeoutMs = timeoutFor(o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.retry = o.retry === false ? { ...DEFAULT_RETRY, maxAttempts: 1 } : { ...DEFAULT_RETRY, ...o.retry };
    this.validate = o.validate ?? true;
    const tls = sessionOptions(o.tls);
    const scheme = tls ? "https" : "http";
    this.sessions = addrs.map((a) => new Http2SessionManager(`${scheme}://${a}`, ping, tls ?? {}));
    this.clients = this.sessions.map((sessionManager, i) =>
      createClient(UserService, createGrpcTransport({ baseUrl: `${scheme}://${addrs[i] ?? ""}`, sessionManager })),
    );
  }

  async getUserDetails(init: GetUserDetailsInit, options: CallOptions = {}): Promise<GetUserDetailsResponse> {
    const req = create(GetUserDetailsRequestSchema, init);
    if (req.authToken === "") req.authToken = this.token;
    if (this.validate) {
      // Checked before any connection: a request the server would reject
      // never leaves this process.
      const invalid = check(GetUserDetailsRequestSchema, req);
      if (invalid) throw invalid;
    }
    return this.invoke((c, o) => c.getUserDetails(req, o), options);
  }

  // invoke makes one call within the deadline, round-robin over the
  // addresses, retrying UNAVAILABLE with jittered exponential backoff.
  private async invoke<O>(
    call: (c: Client<typeof UserService>, o: { timeoutMs: number; signal?: AbortSignal }) => Promise<O>,
    options: CallOptions,
  ): Promise<O> {
    const timeoutMs = options.timeoutMs === undefined ? this.timeoutMs : timeoutFor(options.timeoutMs);
    const deadline = Date.now() + timeoutMs;
    let backoff = this.retry.initialBackoffMs;
    for (let attempt = 1; ; attempt++) {
      const client = this.clients[this.next++ % this.clients.length];
      if (!client) throw new Error("no address");
      const o: { timeoutMs: number; signal?: AbortSignal } = { timeoutMs: Math.max(1, Math.ceil(deadline - Date.now())) };
      if (options.signal) o.signal = options.signal;
      try {
        return await call(client, o);
      } catch (err) {
        const ce = transportError(ConnectError.from(err));
        const wait = Math.random() * backoff;
        if (ce.code !== Code.Unavailable || attempt >= this.retry.maxAttempts || Date.now() + wait >= deadline) throw ce;
        await sleep(wait, undefined, options.signal ? { signal: options.signal } : {}).catch((e: unknown) => {
          throw ConnectError.from(e); // aborted: Canceled
        });
        backoff = Math.min(backoff * this.retry.backoffMultiplier, this.retry.maxBackoffMs);
      }
    }
  }

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
