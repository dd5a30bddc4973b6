package edge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRender(t *testing.T) {
	b, err := Render(State{
		Denied: []string{"203.0.113.0/24", "::ffff:192.0.2.0/120", "198.51.100.0/24", "198.51.100.0/24"},
		Routes: []Route{{Prefix: "/billing/", Status: 403}, {Prefix: "/admin", Status: 503}},
	})
	require.NoError(t, err)
	s := string(b)
	require.Contains(t, s, "\ndeny 192.0.2.0/24;\ndeny 198.51.100.0/24;\ndeny 203.0.113.0/24;\n")
	require.Equal(t, 1, strings.Count(s, "deny 198.51.100.0/24;"), "a range listed twice is written once")
	require.Contains(t, s, "location = /admin {\n    return 503;\n}\nlocation ^~ /admin/ {\n    return 503;\n}\n")
	require.Contains(t, s, "location = /billing {\n    return 403;\n}\n")
	require.Less(t, strings.Index(s, "/admin"), strings.Index(s, "/billing"), "routes are sorted")

	st, err := Parse(b)
	require.NoError(t, err)
	require.Equal(t, State{Denied: []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"},
		Routes: []Route{{"/admin", 503}, {"/billing", 403}}}, st)
	again, err := Render(st)
	require.NoError(t, err)
	require.Equal(t, b, again, "the same state renders the same bytes")

	empty, err := Render(State{})
	require.NoError(t, err)
	require.NotContains(t, string(empty), "deny ")
	require.NotContains(t, string(empty), "return ")
}

func TestRender_RefusesWhatWouldBreakTheInclude(t *testing.T) {
	for _, r := range []Route{
		{"/admin;deny all", 503}, {"/admin{", 503}, {"/a}b", 503}, {"/a'b", 503}, {`/a"b`, 503},
		{"/$host", 503}, {"admin", 503}, {"/", 503}, {"/_control", 503}, {"/admin", 200}, {"/admin\n", 503},
	} {
		_, err := Render(State{Routes: []Route{r}})
		require.Error(t, err, "%q %d", r.Prefix, r.Status)
	}
	for _, c := range []string{"203.0.113.0/24; allow all", "10.0.0.0/08", "10.0.0.1", "", "::ffff:0:0/95"} {
		_, err := Render(State{Denied: []string{c}})
		require.Error(t, err, "%q", c)
	}
}

func TestParse_RefusesAForeignFile(t *testing.T) {
	_, err := Parse([]byte("deny all;\n"))
	require.ErrorContains(t, err, "not written by authops")
}

// fakeProxy is a Proxy whose test and reload commands are scripts that log each call; the
// test command fails while dir/fail exists.
func fakeProxy(t *testing.T) (*Proxy, string) {
	t.Helper()
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
		return p
	}
	test := script("test.sh", `echo test >> "`+dir+`/calls"; if [ -e "`+dir+`/fail" ]; then echo 'nginx: [emerg] unexpected "}" in include.conf:3' >&2; exit 1; fi`)
	reload := script("reload.sh", `echo reload >> "`+dir+`/calls"`)
	return &Proxy{Include: filepath.Join(dir, "include.conf"), Test: []string{test}, Reload: []string{reload}}, dir
}

func calls(t *testing.T, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "calls"))
	if os.IsNotExist(err) {
		return ""
	}
	require.NoError(t, err)
	return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", ",")
}

func TestProxy_ChangesAreIdempotent(t *testing.T) {
	p, dir := fakeProxy(t)
	ctx := context.Background()

	c, err := p.Deny(ctx, []string{"203.0.113.0/24"})
	require.NoError(t, err)
	require.True(t, c.Reloaded)
	require.Equal(t, []string{"203.0.113.0/24"}, c.State.Denied)
	require.Equal(t, "test,reload", calls(t, dir))
	first, err := os.ReadFile(p.Include)
	require.NoError(t, err)

	c, err = p.Deny(ctx, []string{"203.0.113.0/24"})
	require.NoError(t, err)
	require.False(t, c.Reloaded, "the same state again needs no reload")
	require.Equal(t, "test,reload", calls(t, dir))
	again, err := os.ReadFile(p.Include)
	require.NoError(t, err)
	require.Equal(t, first, again)

	_, err = p.Restrict(ctx, []string{"/admin", "/billing"}, 503)
	require.NoError(t, err)
	_, err = p.Lift(ctx, []string{"/billing/"})
	require.NoError(t, err)
	c, err = p.Allow(ctx, []string{"203.0.113.0/24"})
	require.NoError(t, err)
	require.Equal(t, State{Routes: []Route{{"/admin", 503}}}, c.State)
	st, err := p.State()
	require.NoError(t, err)
	require.Equal(t, c.State, st)
}

// A reload that failed leaves the include in place; the retry must reload, not take the
// unchanged file as done.
func TestProxy_RetryAfterAFailedReloadReloads(t *testing.T) {
	p, dir := fakeProxy(t)
	ctx := context.Background()
	good := p.Reload
	p.Reload = []string{"false"}
	_, err := p.Deny(ctx, []string{"198.51.100.0/24"})
	require.ErrorContains(t, err, "reload")
	p.Reload = good
	c, err := p.Deny(ctx, []string{"198.51.100.0/24"})
	require.NoError(t, err)
	require.True(t, c.Reloaded)
	require.Equal(t, "test,reload", calls(t, dir), "the include was already checked; only the reload runs again")
}

func TestProxy_FailedCheckPutsThePreviousIncludeBack(t *testing.T) {
	p, dir := fakeProxy(t)
	ctx := context.Background()
	_, err := p.Deny(ctx, []string{"203.0.113.0/24"})
	require.NoError(t, err)
	before, err := os.ReadFile(p.Include)
	require.NoError(t, err)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "fail"), nil, 0o644))
	_, err = p.Restrict(ctx, []string{"/admin"}, 503)
	require.ErrorContains(t, err, "the previous include is back in place")
	require.ErrorContains(t, err, `unexpected "}"`, "the error carries the check's output")
	after, err := os.ReadFile(p.Include)
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.Equal(t, "test,reload,test", calls(t, dir), "no reload after a failed check")

	// A first include that fails its check is removed again, as there was none before.
	q, qdir := fakeProxy(t)
	require.NoError(t, os.WriteFile(filepath.Join(qdir, "fail"), nil, 0o644))
	_, err = q.Deny(ctx, []string{"203.0.113.0/24"})
	require.Error(t, err)
	require.NoFileExists(t, q.Include)
}

func TestProxy_BadInputChangesNothing(t *testing.T) {
	p, dir := fakeProxy(t)
	ctx := context.Background()
	_, err := p.Deny(ctx, []string{"203.0.113.0/24", "203.0.113.0/24;allow all"})
	require.ErrorContains(t, err, "203.0.113.0/24;allow all")
	_, err = p.Restrict(ctx, []string{"/admin", "/x{return 200;}"}, 503)
	require.Error(t, err)
	_, err = p.Restrict(ctx, []string{"/admin"}, 200)
	require.Error(t, err)
	_, err = p.Deny(ctx, nil)
	require.Error(t, err)
	require.NoFileExists(t, p.Include)
	require.Empty(t, calls(t, dir))

	// An include someone else wrote is not overwritten.
	require.NoError(t, os.WriteFile(p.Include, []byte("deny all;\n"), 0o644))
	_, err = p.Deny(ctx, []string{"203.0.113.0/24"})
	require.ErrorContains(t, err, "not written by authops")
	b, err := os.ReadFile(p.Include)
	require.NoError(t, err)
	require.Equal(t, "deny all;\n", string(b))
}

// Changes at once (an incident's deny beside an emergency's restrict) each keep the other's.
func TestProxy_ConcurrentChangesKeepEachOther(t *testing.T) {
	p, _ := fakeProxy(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			_, err := p.Deny(context.Background(), []string{fmt.Sprintf("198.51.100.%d/32", i)})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st, err := p.State()
	require.NoError(t, err)
	require.Len(t, st.Denied, 8)
}
