package auth

import (
	"context"
	"sync/atomic"
)

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

// ReloadFile reads the tokens file at path, checked in full, and puts its
// tokens in force; it returns how many there are. On error the tokens in
// force stay, and the error names the file and line, never a token.
func (r *Reloadable) ReloadFile(ctx context.Context, path string) (int, error) {
	list, err := LoadTokensFile(ctx, path)
	if err != nil {
		return 0, err
	}
	a, err := New(list)
	if err != nil {
		return 0, err
	}
	r.Replace(a)
	return len(list), nil
}
