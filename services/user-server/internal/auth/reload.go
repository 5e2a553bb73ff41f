package auth

import "sync/atomic"

// Reloadable holds the Authenticator in force and lets it be replaced while
// RPCs run (on SIGHUP): each check reads one Authenticator, so a request is
// judged by the old token set or the new one, never a mix.
type Reloadable struct {
	cur atomic.Pointer[Authenticator]
}

// NewReloadable returns a Reloadable starting with a.
func NewReloadable(a *Authenticator) *Reloadable {
	r := &Reloadable{}
	r.cur.Store(a)
	return r
}

// Allow implements the server's token check with the current Authenticator.
func (r *Reloadable) Allow(token string) bool { return r.cur.Load().Allow(token) }

// Replace puts a in force for every check from now on.
func (r *Reloadable) Replace(a *Authenticator) { r.cur.Store(a) }
