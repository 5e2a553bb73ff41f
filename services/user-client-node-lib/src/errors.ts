// Error classes and process exit codes, the Go user-client's
// (services/user-client/internal/exitcode). Scripts rely on the numbers:
// never renumber.
import { Code, ConnectError } from "@connectrpc/connect";

/**
 * A bad option, address, flag or environment variable: the caller's
 * mistake, found before any connection (exit code 2).
 */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Process exit codes of both clients, by outcome. */
export const ExitCode = {
  OK: 0,
  Other: 1,
  Usage: 2,
  Unauthenticated: 3,
  NotFound: 4,
  InvalidArgument: 5,
  /** Also DeadlineExceeded: the server could not answer in time. */
  Unavailable: 6,
} as const;

/**
 * exitCode returns the exit code for the outcome err (undefined is success):
 * a UsageError is 2, a ConnectError by its code, anything else 1.
 */
export function exitCode(err: unknown): number {
  if (err === undefined) return ExitCode.OK;
  if (err instanceof UsageError) return ExitCode.Usage;
  if (!(err instanceof ConnectError)) return ExitCode.Other;
  switch (err.code) {
    case Code.Unauthenticated:
      return ExitCode.Unauthenticated;
    case Code.NotFound:
      return ExitCode.NotFound;
    case Code.InvalidArgument:
      return ExitCode.InvalidArgument;
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return ExitCode.Unavailable;
    default:
      return ExitCode.Other;
  }
}
