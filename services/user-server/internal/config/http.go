package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// HTTP is the HTTP listener's configuration (--http-*).
type HTTP struct {
	// Listen is the listener's address; empty: no HTTP listener.
	Listen string
	// AllowRemote lets Listen be a non-loopback address.
	AllowRemote bool
	// CORSOrigins are the origins allowed to call cross-origin (exact
	// matches of the Origin header); none by default.
	CORSOrigins []string

	corsOrigins string // the flag's raw value
}

// check validates the flags' syntax: an address, and origins of the form
// scheme://host[:port] with no path (what browsers send in Origin).
func (h *HTTP) check() error {
	if h.Listen != "" {
		if _, _, err := net.SplitHostPort(h.Listen); err != nil {
			return fmt.Errorf("--http-listen %q: %w", h.Listen, err)
		}
	}
	h.CORSOrigins = nil
	for o := range strings.SplitSeq(h.corsOrigins, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("--http-cors-origins: %q is not an origin (want scheme://host[:port], e.g. https://app.example.com)", o)
		}
		h.CORSOrigins = append(h.CORSOrigins, u.Scheme+"://"+u.Host)
	}
	if len(h.CORSOrigins) > 0 && h.Listen == "" {
		return fmt.Errorf("--http-cors-origins needs --http-listen")
	}
	return nil
}
