// Process exit codes, the Go user-client's. Scripts rely on them: never renumber.
import { Code, ConnectError } from "@connectrpc/connect";
import { UsageError } from "./config.js";

export const OK = 0;
export const OTHER = 1;
export const USAGE = 2;
export const UNAUTHENTICATED = 3;
export const NOT_FOUND = 4;
export const INVALID_ARGUMENT = 5;
export const UNAVAILABLE = 6; // also DeadlineExceeded: the server could not answer in time

/** exitCode returns the exit code for err (undefined means success). */
export function exitCode(err: unknown): number {
  if (err === undefined) return OK;
  if (err instanceof UsageError) return USAGE;
  if (!(err instanceof ConnectError)) return OTHER;
  switch (err.code) {
    case Code.Unauthenticated:
      return UNAUTHENTICATED;
    case Code.NotFound:
      return NOT_FOUND;
    case Code.InvalidArgument:
      return INVALID_ARGUMENT;
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return UNAVAILABLE;
    default:
      return OTHER;
  }
}
