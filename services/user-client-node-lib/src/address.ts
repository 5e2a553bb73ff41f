// Addresses: what --addr and USER_CLIENT_ADDR accept, as the Go client
// reads them (services/user-client/internal/config), less the grpc-go
// resolvers Connect does not have.
import { UsageError } from "./errors.js";
import { quote } from "./text.js";

const hostPort = /^(\[[^\]]*\]|[^:[\]]+):(\d+)$/;

/**
 * parseAddresses reads one address (host:port, or dns:///host:port, the Go
 * client's default resolver spelled out) or a comma-separated list of
 * host:port, and returns the host:port addresses. Errors are UsageErrors
 * naming the option as label, as the Go client words them.
 */
export function parseAddresses(s: string, label = "address"): string[] {
  s = s.trim();
  if (s === "") throw new UsageError(`${label} must not be empty`);
  if (!s.includes(",")) {
    if (unbracketedIPv6(s)) throw new UsageError(`${label} ${quote(s)}: put an IPv6 address in brackets, e.g. [::1]:50051`);
    const a = s.startsWith("dns:///") ? s.slice("dns:///".length) : s;
    if (!hostPort.test(a)) {
      throw new UsageError(`${label} ${quote(s)}: want host:port or dns:///host:port (the Node client has no other resolvers)`);
    }
    return [a];
  }
  return s.split(",").map((a) => {
    a = a.trim();
    if (unbracketedIPv6(a)) throw new UsageError(`${label} list entry ${quote(a)}: put an IPv6 address in brackets, e.g. [::1]:50051`);
    if (!hostPort.test(a)) {
      throw new UsageError(`${label} list entry ${quote(a)}: want host:port (targets with a scheme work only on their own)`);
    }
    return a;
  });
}

// unbracketedIPv6 reports an address like ::1:50051 or fe80::1, which would
// otherwise read as a host name without a port: an address without a
// scheme never holds two colons outside brackets.
function unbracketedIPv6(s: string): boolean {
  return !s.includes("://") && !s.startsWith("[") && s.split(":").length - 1 >= 2;
}
