// Package listen opens the server's listener: the loopback check of
// development mode, done on resolved addresses, and the optional cap on
// concurrent connections.
package listen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/netutil"
)

// LookupFunc resolves a host name, like net.Resolver.LookupNetIP.
type LookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// Loopback checks that host:port names loopback addresses only and returns
// the address to bind: an IP literal is checked as is; a name (such as
// localhost, which /etc/hosts may map anywhere) is resolved with lookup,
// every address it resolves to must be loopback, and the first (IPv4
// preferred, as net.Listen does) is returned, so what is bound is what was
// checked. An empty host means every interface and is refused.
func Loopback(ctx context.Context, hostport string, lookup LookupFunc) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", err
	}
	if host == "" {
		return "", errors.New("an empty host means every interface")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.Unmap().IsLoopback() {
			return "", fmt.Errorf("%s is not a loopback address", host)
		}
		return hostport, nil
	}
	addrs, err := lookup(ctx, "ip", host)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("%s resolves to no address", host)
	}
	bind := addrs[0]
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return "", fmt.Errorf("%s resolves to %s, not a loopback address", host, a)
		}
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			bind = a
			break
		}
	}
	return net.JoinHostPort(bind.Unmap().WithZone("").String(), port), nil
}

// TCP listens on addr. With maxConns > 0, at most maxConns connections are
// open at once: Accept waits for one to close, and new clients wait in the
// kernel's listen backlog meanwhile.
func TCP(ctx context.Context, addr string, maxConns int) (net.Listener, error) {
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if maxConns > 0 {
		lis = netutil.LimitListener(lis, maxConns)
	}
	return lis, nil
}
