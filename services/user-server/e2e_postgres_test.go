package main

import (
	"bytes"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/acme/user-service/services/user-server/internal/testwait"
	"github.com/acme/user-service/testkit/gobuild"
	"github.com/acme/user-service/testkit/pgtest"
)

// TestBinaryMigrateAndReload: the real binary. Two `user-server migrate`
// processes at once both succeed and exactly one applies the schema; a
// server sent SIGHUP reloads its users file and keeps running (SIGHUP used
// to kill it with exit 129), then exits 0 on SIGTERM.
func TestBinaryMigrateAndReload(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	bin := gobuild.Binary(t, ".")

	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, 2)
	errs := make([]error, 2)
	for i := range outs {
		wg.Go(func() {
			cmd := exec.CommandContext(t.Context(), bin, "migrate")
			cmd.Env = append(withoutServerEnv(), "USER_SERVER_DATABASE_URL="+url)
			cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
			errs[i] = cmd.Run()
		})
	}
	wg.Wait()
	applied := 0
	for i := range outs {
		if errs[i] != nil {
			t.Fatalf("migrate process %d: %v\n%s", i, errs[i], &outs[i])
		}
		if strings.Contains(outs[i].String(), "migration(s) 0001_users.sql") {
			applied++
		}
	}
	if applied != 1 {
		t.Fatalf("%d processes applied the migration, want 1:\n%s\n%s", applied, &outs[0], &outs[1])
	}

	usersFile := writeFile(t, "users.json", usersJSON("alice"))
	srv := startBinary(t, bin, nil, "--users", usersFile)
	conn := dial(t, srv.addr, nil)
	waitServing(t, conn)
	if _, err := lookup(t.Context(), conn, "bob"); err == nil {
		t.Fatal("bob found before the reload")
	}
	replaceFile(t, usersFile, usersJSON("alice", "bob"))
	if err := srv.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, "bob after SIGHUP", func() bool { _, err := lookup(t.Context(), conn, "bob"); return err == nil })
	if err := srv.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.waitExit(t); err != nil {
		t.Fatalf("exit after SIGHUP and SIGTERM: %v\n%s", err, srv.stderr)
	}
	if logs := srv.logs(t); !strings.Contains(logs, "reload: users replaced") {
		t.Errorf("no reload line in the log:\n%s", logs)
	}
}
