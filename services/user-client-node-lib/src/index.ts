// @acme/user-client: a typed client of user.v1.UserService for Node.js, the
// library the user-client-node CLI is built on.
export {
  createUserServiceClient,
  tlsFromFiles,
  timeoutFor,
  DEFAULT_RETRY,
  DEFAULT_TIMEOUT_MS,
  MAX_TIMEOUT_MS,
  type CallOptions,
  type ClientOptions,
  type GetUserDetailsInit,
  type RetryPolicy,
  type TLSConfig,
  type UserServiceClient,
} from "./client.js";
export { parseAddresses } from "./address.js";
export { ExitCode, exitCode, UsageError } from "./errors.js";
export { check, validator } from "./validation.js";
export { escape, oneLine, quote, Redactor, MASK } from "./text.js";
export { Code, ConnectError } from "@connectrpc/connect";
export type { GetUserDetailsRequest, GetUserDetailsResponse } from "@acme/user-proto/user/v1/user_pb.js";
