package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a log writer that the gateway's goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// changeConfig rewrites the fixture's config: dave (Slack id UDAVE) joins, carol leaves, and a
// target staging appears.
func (f *gatewayFixture) changeConfig(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(f.config)
	require.NoError(t, err)
	text := string(b)
	staging := strings.Replace(strings.SplitN(strings.TrimPrefix(text, "targets:\n"), "people:", 2)[0], "  demo:", "  staging:", 1)
	text = strings.Replace(text, "people:\n", staging+"people:\n", 1)
	text = strings.Replace(text, "  carol: {keys: [{file: keys/carol.pub}]}\n", "  dave: {slack_id: UDAVE, keys: [{file: keys/carol.pub}]}\n", 1)
	require.Contains(t, text, "dave")
	require.Contains(t, text, "  staging:")
	writeFile(t, f.config, []byte(text))
}

// TestGatewayReload: a reload judges requests by the new config from then on and logs what
// changed; a config that does not load, or drops the gateway's key, changes nothing.
func TestGatewayReload(t *testing.T) {
	f := newGatewayFixture(t)
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1") // lazy: nothing is dialed
	env := map[string]string{envGatewayKey: f.keyFile}
	srv, gw, err := f.app.newGateway(func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer gw.Close()
	defer srv.Close()
	require.Equal(t, []string{"demo"}, srv.Directory().Targets)
	require.Equal(t, map[string]string{"UALICE": "alice", "UBOB": "bob"}, srv.Directory().People)

	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	f.changeConfig(t)
	gw.reload(srv, logger)
	require.Contains(t, logs.String(), `msg="config reloaded"`)
	require.Contains(t, logs.String(), "people_added=dave people_removed=carol targets_added=staging slack_users_added=UDAVE")
	require.Equal(t, []string{"demo", "staging"}, srv.Directory().Targets)
	require.Equal(t, "dave", srv.Directory().People["UDAVE"])
	_, err = gw.cfg.Load().Target("staging")
	require.NoError(t, err, "the runs are judged by the new config too")

	// A broken config, or one without the gateway's key, is refused whole.
	before := srv.Directory()
	for _, bad := range []string{"targets: [\n", strings.Replace(readFile(t, f.config), "gateway:\n  keys: [{file: keys/gateway.pub}]\n",
		"gateway:\n  keys: [{file: keys/alice.pub}]\n", 1)} {
		writeFile(t, f.config, []byte(bad))
		gw.reload(srv, logger)
		require.Contains(t, logs.String(), "config reload failed; the gateway keeps the config it had")
		require.Equal(t, before, srv.Directory())
		_, err = gw.cfg.Load().Target("staging")
		require.NoError(t, err)
	}
	require.Contains(t, logs.String(), "is not in the config's gateway.keys")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// TestServeReloadsOnSIGHUP: `starter serve` reloads its config when it gets SIGHUP, and logs
// what changed.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	f := newGatewayFixture(t)
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	env := map[string]string{envGatewayKey: f.keyFile}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- f.app.serve(ctx, addr, func(k string) string { return env[k] }, &logs) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	// The signal handler is in place before the gateway listens.
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "gateway listening") }, 10*time.Second, 10*time.Millisecond, logs.String())

	f.changeConfig(t)
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `msg="config reloaded"`) }, 10*time.Second, 10*time.Millisecond, logs.String())
	require.Contains(t, logs.String(), "people_added=dave people_removed=carol targets_added=staging")
}
