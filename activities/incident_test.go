package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/controls"
	"github.com/authops/authops/internal/probe"
	"github.com/authops/authops/internal/testenv"
)

const demoPassword = "dem0-user-pa55-Vb8"

// newRealFixture is the fixture pointed at the real demo backend (bin/authbackend) instead of
// the fake: it runs on the fixture's env file and admin token, with users probe (the fixture's
// password), demo and probe-admin. front, when given, wraps the backend's handler (a proxy that
// misbehaves).
func newRealFixture(t *testing.T, front ...func(backend string) string) *fixture {
	t.Helper()
	bin := authbackendBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	backendURL := "http://" + addr
	baseURL := backendURL
	for _, fr := range front {
		baseURL = fr(backendURL)
	}
	f := newFixture(t, func(doc string) string {
		return regexp.MustCompile(`base_url: \S+`).ReplaceAllString(doc, "base_url: "+baseURL)
	})
	users, err := json.Marshal([]map[string]string{
		{"username": "probe", "password": probePassword, "role": "user"},
		{"username": "demo", "password": demoPassword, "role": "user"},
		{"username": "probe-admin", "password": "adm1n-pa55-Qe5", "role": "admin"},
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "users.json"), users, 0o600))

	var out bytes.Buffer
	var mu sync.Mutex
	cmd := exec.Command(bin, "--addr", addr, "--users", filepath.Join(f.dir, "users.json"),
		"--env-file", filepath.Join(f.dir, "backend.env"), "--admin-token-file", filepath.Join(f.dir, "admin.token"),
		"--state-file", filepath.Join(f.dir, "state.json"))
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, &out}, lockedWriter{&mu, &out}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("authbackend output:\n%s", out.String())
			mu.Unlock()
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(backendURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("authbackend did not get healthy: %v\n%s", err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { assertNoTokens(t, f) })
	return f
}

var (
	buildOnce  sync.Once
	builtBin   string
	buildError error
	buildDir   string
)

// authbackendBinary is $AUTHOPS_BIN/authbackend (make test builds it), else the backend built
// from this tree once per test process, so that a stale bin/ never runs.
func authbackendBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv("AUTHOPS_BIN") != "" {
		bin := filepath.Join(testenv.BinDir(t), "authbackend")
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s missing: run `make build`", bin)
		}
		return bin
	}
	buildOnce.Do(func() {
		buildDir, buildError = os.MkdirTemp("", "authops-activities-test-")
		if buildError != nil {
			return
		}
		builtBin = filepath.Join(buildDir, "authbackend")
		out, err := exec.Command("go", "build", "-o", builtBin, "github.com/authops/authops/demo/authbackend").CombinedOutput()
		if err != nil {
			buildError = fmt.Errorf("go build authbackend: %v\n%s", err, out)
		}
	})
	if buildError != nil {
		t.Fatal(buildError)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// assertNoTokens checks that no result or log holds a JWT or the demo user's password: the real
// backend's tokens are not known in advance, but every one of them is JWT-shaped.
func assertNoTokens(t *testing.T, f *fixture) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range append(append([]string(nil), f.results...), f.logs.String()) {
		require.NotRegexp(t, `eyJ[A-Za-z0-9_-]{8,}`, r, "a JWT reached an activity result, error or log")
		require.NotContains(t, r, demoPassword)
	}
}

func (f *fixture) controls() controls.Client {
	return controls.Client{BaseURL: f.cfg.Targets["demo"].BaseURL, Token: adminToken}
}

func (f *fixture) state() controls.State {
	f.t.Helper()
	st, err := f.controls().State(context.Background())
	require.NoError(f.t, err)
	return st
}

func requireNonRetryable(t *testing.T, err error, contains string) {
	t.Helper()
	require.Error(t, err)
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "want an application error, got %v", err)
	require.True(t, ae.NonRetryable(), "want a non-retryable error: %v", err)
	require.Contains(t, err.Error(), contains)
}

func TestLoadIncidentPolicy(t *testing.T) {
	f := newFixture(t, func(doc string) string {
		// A second target, with another approver and its own channel.
		second := regexp.MustCompile(`(?s)  demo:\n(.*?)people:`).FindStringSubmatch(doc)[1]
		second = strings.Replace(second, `"#auth-ops"`, `"#auth-ops-eu"`, 1)
		second = strings.Replace(second, "approvers: [alice, bob]", "approvers: [carol, alice]", 1)
		doc = strings.Replace(doc, "people:\n", "  eu:\n"+second+"people:\n", 1)
		return strings.Replace(doc, "people:\n", "people:\n  carol: {keys: [\""+personKey(t)+"\"]}\n", 1) +
			"incident:\n  history_limit: 60\n  status_every: {high: 20m}\n  actions:\n    logout-all: {who: [owner, carol], quorum: 2}\n"
	})
	val, err := f.env.ExecuteActivity(f.policies.LoadIncidentPolicy)
	require.NoError(t, err)
	var p contract.IncidentPolicy
	require.NoError(t, val.Get(&p))
	require.Equal(t, []string{"demo", "eu"}, p.Targets)
	require.Equal(t, []string{"alice", "bob", "carol"}, p.Approvers, "the union, in target order, each once")
	require.Equal(t, "#auth-ops", p.Channel, "the first target's channel")
	require.Len(t, p.People, 3)
	require.Equal(t, 5*time.Minute, p.OwnerAck)
	require.Equal(t, 15*time.Minute, p.FirstSteps)
	require.Equal(t, 20*time.Minute, p.StatusEvery["high"])
	require.Equal(t, 4*time.Hour, p.StatusEvery["low"])
	require.Equal(t, 60, p.HistoryLimit)
	require.Equal(t, contract.ActionRule{Who: []string{"owner", "carol"}, Quorum: 2}, p.Actions[contract.ContainLogoutAll])
	require.Equal(t, contract.ActionRule{Who: []string{"owner", "approvers"}, Quorum: 0}, p.Actions[contract.ContainInvalidate])
	require.Len(t, p.Actions, len(contract.ContainKinds))
	// Each target's own approvers, so that a gate counts only those of its measure's targets.
	require.Equal(t, map[string][]string{"demo": {"alice", "bob"}, "eu": {"carol", "alice"}}, p.TargetApprovers)
	require.Empty(t, p.Owners)
	require.Equal(t, contract.DefaultResetWithoutQuorum, p.ResetWithoutQuorum)
	require.Equal(t, contract.DenyWidth{IPv4: 16, IPv6: 48}, p.DenyWithoutQuorum)
	require.Subset(t, p.AdminAccounts, []string{"admin", "administrator", "root"})
	require.Equal(t, contract.DefaultKeepFor, p.KeepFor)

	var pol contract.Policy
	require.NoError(t, f.run(&pol, f.policies.LoadPolicy, "demo"))
	require.Equal(t, contract.FreezeRefuse, pol.Freeze)
}

func TestSnapshotTarget_FingerprintsEveryValue(t *testing.T) {
	f := newFixture(t)
	// Adopt the live secret, so the store has a current version to show.
	pc := f.adopt(t, "run-1")

	in := contract.IncidentTargetInput{Incident: "incident-abc", Target: "demo"}
	var s contract.Snapshot
	require.NoError(t, f.run(&s, f.incidents.SnapshotTarget, in))

	store := f.store()
	fp := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for _, k := range []string{"base_url", "env_sink.path", "env_sink.key", "admin.token", "probe.password",
		"env.JWT_SECRET", "env.PORT", "env.LOG_LEVEL", "env.DB_URL"} {
		require.Regexp(t, fp, s.Config[k], "config key %s has a fingerprint", k)
	}
	require.Equal(t, store.Fingerprint(f.initial), s.Config["env.JWT_SECRET"])
	require.Equal(t, store.Fingerprint(adminToken), s.Config["admin.token"])
	require.Equal(t, store.Fingerprint(f.cfg.Targets["demo"].BaseURL), s.Config["base_url"])
	require.Equal(t, pc.Current, s.Secret)
	require.Equal(t, s.Config["env.JWT_SECRET"], s.Secret.Fingerprint, "the env file runs the store's current version")
	require.Equal(t, `200 {"status":"ok","pid":1}`, s.Healthz)
	require.Equal(t, "info", s.Controls.LogLevel)
	require.Equal(t, map[string]string{"kind": "exec", "argv": "deploy.sh backend.env", "dry_run_argv": "deploy.sh --dry-run",
		"dir": "", "timeout": "10s", "readiness_timeout": "5s"}, s.Deploy)
	require.Contains(t, s.ProbeFrom, "127.0.0.1")

	// The artifact is the snapshot, named by its digest, with no value in plain text.
	require.Equal(t, filepath.Join(f.dir, "var/artifacts/incident-abc/snapshot-demo.json"), s.Artifact.Path)
	b, err := os.ReadFile(s.Artifact.Path)
	require.NoError(t, err)
	require.Equal(t, digest(b), s.Artifact.Digest)
	var onDisk contract.Snapshot
	require.NoError(t, json.Unmarshal(b, &onDisk))
	require.Equal(t, s.Config, onDisk.Config)
	for _, v := range []string{f.initial, adminToken, probePassword, f.cfg.Targets["demo"].BaseURL, "postgres://u@h/db", "8081"} {
		require.NotContains(t, string(b), v)
		require.NotContains(t, strings.Join(f.results, "\n"), v)
	}

	// A retry writes the same file again.
	var again contract.Snapshot
	require.NoError(t, f.run(&again, f.incidents.SnapshotTarget, in))
	require.Equal(t, s.Artifact.Path, again.Artifact.Path)
	b, err = os.ReadFile(again.Artifact.Path)
	require.NoError(t, err)
	require.Equal(t, digest(b), again.Artifact.Digest)

	err = f.run(nil, f.incidents.SnapshotTarget, contract.IncidentTargetInput{Incident: "../../etc", Target: "demo"})
	requireNonRetryable(t, err, "cannot name an artifacts directory")
}

func TestConfirmAuth(t *testing.T) {
	f := newFixture(t)
	var rs contract.ProbeResults
	require.NoError(t, f.run(&rs, f.incidents.ConfirmAuth, contract.IncidentTargetInput{Incident: "incident-abc", Target: "demo"}))
	require.True(t, rs.OK(), "%+v", rs)
	require.Equal(t, []string{"health", "login", "me"}, names(rs))

	// An unhealthy backend is a failed check, not an error.
	f.neverHealth.Store(true)
	require.NoError(t, f.run(&rs, f.incidents.ConfirmAuth, contract.IncidentTargetInput{Incident: "incident-abc", Target: "demo"}))
	require.False(t, resultByName(t, rs, "health").OK)
}

func names(rs contract.ProbeResults) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func measure(kind string, edit func(r *contract.ContainRequest)) contract.MeasureInput {
	in := contract.MeasureInput{Incident: "incident-abc", ActionID: "a1", Target: "demo", Request: contract.ContainRequest{Kind: kind}}
	if edit != nil {
		edit(&in.Request)
	}
	return in
}

func TestMeasure_DenyCIDRRoundTrip(t *testing.T) {
	f := newRealFixture(t)
	in := measure(contract.ContainDenyCIDR, func(r *contract.ContainRequest) { r.CIDRs = []string{"10.9.0.0/16", "192.0.2.0/24"} })
	var res contract.MeasureResult
	require.NoError(t, f.run(&res, f.incidents.ApplyMeasure, in))
	require.Equal(t, "denied 10.9.0.0/16, 192.0.2.0/24; backend denies: 10.9.0.0/16, 192.0.2.0/24", res.Detail)
	require.Equal(t, []string{"10.9.0.0/16", "192.0.2.0/24"}, f.state().DeniedCIDRs)
	// Applied twice, it is still denied once.
	require.NoError(t, f.run(&res, f.incidents.ApplyMeasure, in))
	require.Equal(t, []string{"10.9.0.0/16", "192.0.2.0/24"}, f.state().DeniedCIDRs)

	// Another denied range stays when one measure is undone.
	require.NoError(t, f.controls().DenyCIDRs(context.Background(), []string{"198.51.100.0/24"}))
	require.NoError(t, f.run(&res, f.incidents.UndoMeasure, in))
	require.Equal(t, "allowed 10.9.0.0/16, 192.0.2.0/24; backend denies: 198.51.100.0/24", res.Detail)
	require.Equal(t, []string{"198.51.100.0/24"}, f.state().DeniedCIDRs)
	require.NoError(t, f.run(&res, f.incidents.UndoMeasure, in), "undo is idempotent")

	// An undo with no range would allow every range: refused.
	err := f.run(nil, f.incidents.UndoMeasure, measure(contract.ContainDenyCIDR, nil))
	requireNonRetryable(t, err, "no CIDRs given")
	require.Equal(t, []string{"198.51.100.0/24"}, f.state().DeniedCIDRs)

	// The worker's own address, or everyone, only with force.
	err = f.run(nil, f.incidents.ApplyMeasure, measure(contract.ContainDenyCIDR, func(r *contract.ContainRequest) { r.CIDRs = []string{"127.0.0.0/8"} }))
	requireNonRetryable(t, err, "the address the worker's probes come from")
	err = f.run(nil, f.incidents.ApplyMeasure, measure(contract.ContainDenyCIDR, func(r *contract.ContainRequest) { r.CIDRs = []string{"0.0.0.0/0"} }))
	requireNonRetryable(t, err, "lock everyone out")
	require.Equal(t, []string{"198.51.100.0/24"}, f.state().DeniedCIDRs)
}

func TestMeasure_LogLevelRoundTrip(t *testing.T) {
	f := newRealFixture(t)
	require.Equal(t, "info", f.state().LogLevel)
	in := measure(contract.ContainLogLevel, func(r *contract.ContainRequest) { r.Level = "debug" })
	var res contract.MeasureResult
	require.NoError(t, f.run(&res, f.incidents.ApplyMeasure, in))
	require.Equal(t, "info", res.Previous)
	require.Equal(t, "log level debug (was info); backend log level: debug", res.Detail)
	require.Equal(t, "debug", f.state().LogLevel)

	undo := in
	undo.Previous = res.Previous
	require.NoError(t, f.run(&res, f.incidents.UndoMeasure, undo))
	require.Equal(t, "log level restored to info; backend log level: info", res.Detail)
	require.Equal(t, "info", f.state().LogLevel)

	err := f.run(nil, f.incidents.UndoMeasure, in)
	requireNonRetryable(t, err, "the level to restore must be one of")

	// A retry after the level changed still reports the level before the measure, which the
	// first attempt kept in its heartbeat details.
	_, err = f.controls().SetLogLevel(context.Background(), "debug")
	require.NoError(t, err)
	f.env.SetHeartbeatDetails("info")
	require.NoError(t, f.run(&res, f.incidents.ApplyMeasure, in))
	require.Equal(t, "info", res.Previous)
}

func TestMeasure_RequireResetRevokesSessions(t *testing.T) {
	f := newRealFixture(t)
	pt := f.probes.probe(f.cfg.Targets["demo"])
	ctx := context.Background()
	sess, login := pt.Login(ctx, probeCreds("demo", demoPassword))
	require.True(t, login.OK, "%+v", login)
	probeSess, login := pt.Login(ctx, probeCreds("probe", probePassword))
	require.True(t, login.OK, "%+v", login)

	var res contract.MeasureResult
	require.NoError(t, f.run(&res, f.incidents.ApplyMeasure, measure(contract.ContainRequireReset, func(r *contract.ContainRequest) { r.Users = []string{"demo"} })))
	require.Contains(t, res.Detail, "password reset required for demo; their sessions revoked; backend resets: demo")
	require.Equal(t, []string{"demo"}, f.state().PasswordResetUsers)

	require.True(t, pt.Me(ctx, "me", sess.AccessToken, "", http.StatusUnauthorized).OK, "the reset user's session is revoked")
	require.True(t, pt.Me(ctx, "me", probeSess.AccessToken, "probe", http.StatusOK).OK, "other users keep theirs")
	_, login = pt.Login(ctx, probeCreds("demo", demoPassword))
	require.Equal(t, http.StatusForbidden, login.Got, "the reset user cannot log in")

	err := f.run(nil, f.incidents.UndoMeasure, measure(contract.ContainRequireReset, func(r *contract.ContainRequest) { r.Users = []string{"demo"} }))
	requireNonRetryable(t, err, "require-reset has no undo")
	// An unknown user is the control API's 400: not retried.
	err = f.run(nil, f.incidents.ApplyMeasure, measure(contract.ContainRequireReset, func(r *contract.ContainRequest) { r.Users = []string{"nobody"} }))
	requireNonRetryable(t, err, "status 400")
}

func TestMeasure_Logouts(t *testing.T) {
	f := newRealFixture(t)
	pt := f.probes.probe(f.cfg.Targets["demo"])
	ctx := context.Background()
	demo, _ := pt.Login(ctx, probeCreds("demo", demoPassword))
	prb, _ := pt.Login(ctx, probeCreds("probe", probePassword))

	var res contract.MeasureResult
	require.NoError(t, f.run(&res, f.incidents.ApplyMeasure, measure(contract.ContainLogoutUsers, func(r *contract.ContainRequest) { r.Users = []string{"demo"} })))
	require.Contains(t, res.Detail, "revoked 1 sessions of demo")
	require.True(t, pt.Me(ctx, "me", demo.AccessToken, "", http.StatusUnauthorized).OK)
	require.True(t, pt.Me(ctx, "me", prb.AccessToken, "probe", http.StatusOK).OK)

	require.NoError(t, f.run(&res, f.incidents.ApplyMeasure, measure(contract.ContainLogoutAll, nil)))
	require.Contains(t, res.Detail, "revoked 1 sessions, every token issued before")
	require.True(t, pt.Me(ctx, "me", prb.AccessToken, "", http.StatusUnauthorized).OK)

	// One unknown name, and nobody is logged out.
	demo, _ = pt.Login(ctx, probeCreds("demo", demoPassword))
	err := f.run(nil, f.incidents.ApplyMeasure, measure(contract.ContainLogoutUsers, func(r *contract.ContainRequest) { r.Users = []string{"demo", "nobody"} }))
	requireNonRetryable(t, err, "status 400")
	require.True(t, pt.Me(ctx, "me", demo.AccessToken, "demo", http.StatusOK).OK)

	err = f.run(nil, f.incidents.ApplyMeasure, measure(contract.ContainInvalidate, nil))
	requireNonRetryable(t, err, "invalidate is a runbook run")
	err = f.run(nil, f.incidents.ApplyMeasure, measure(contract.ContainLogoutUsers, nil))
	requireNonRetryable(t, err, "needs at least one user")
}

func probeCreds(user, pw string) probe.Credentials {
	return probe.Credentials{Username: user, Password: pw}
}

func TestVerifyIncident_ChecksTheControls(t *testing.T) {
	f := newRealFixture(t)
	ctx := context.Background()
	c := f.controls()
	require.NoError(t, c.RequirePasswordReset(ctx, []string{"demo"}, true))
	require.NoError(t, c.DenyCIDRs(ctx, []string{"127.0.0.2/32", "10.9.0.0/16"}))

	in := contract.IncidentVerifyInput{Incident: "incident-abc", Target: "demo", ResetUsers: []string{"demo"},
		DeniedCIDRs: []string{"127.0.0.2/32", "10.9.0.0/16"}}
	var rs contract.ProbeResults
	require.NoError(t, f.run(&rs, f.incidents.VerifyIncident, in))
	require.True(t, rs.OK(), "%+v", rs)
	require.Equal(t, []string{"valid_login", "bad_password_rejected", "reset_user_refused demo",
		"denied_range_refused 127.0.0.2/32", "denied_range_refused 10.9.0.0/16", "me_valid_session",
		"me_tampered_token_rejected", "admin_forbidden_for_user", "me_revoked_session_rejected"}, names(rs))
	require.Equal(t, http.StatusUnauthorized, resultByName(t, rs, "bad_password_rejected").Got)
	denied := resultByName(t, rs, "denied_range_refused 127.0.0.2/32")
	require.Equal(t, http.StatusForbidden, denied.Got, "sent from inside the range: %+v", denied)
	require.Contains(t, denied.Detail, "cidr_denied; from 127.0.0.2")
	require.Contains(t, resultByName(t, rs, "denied_range_refused 10.9.0.0/16").Detail, "no local address in range to probe from")
	require.Equal(t, http.StatusUnauthorized, resultByName(t, rs, "me_revoked_session_rejected").Got)
	require.Equal(t, http.StatusForbidden, resultByName(t, rs, "admin_forbidden_for_user").Got)
	// Another user's reset is read from the backend's state, not sent: not probed, never passed.
	reset := resultByName(t, rs, "reset_user_refused demo")
	require.True(t, reset.NotProbed, "%+v", reset)
	require.False(t, reset.OK)
	require.Contains(t, names(rs.NotProbed()), "reset_user_refused demo")

	// Controls that are not in force fail their checks: a range that is not denied answers the
	// login from inside it, and a user with no reset is not listed.
	require.NoError(t, c.AllowCIDRs(ctx, []string{"127.0.0.2/32"}))
	require.NoError(t, c.RequirePasswordReset(ctx, []string{"demo"}, false))
	require.NoError(t, f.run(&rs, f.incidents.VerifyIncident, in))
	require.False(t, rs.OK())
	require.Equal(t, http.StatusOK, resultByName(t, rs, "denied_range_refused 127.0.0.2/32").Got)
	require.False(t, resultByName(t, rs, "denied_range_refused 127.0.0.2/32").OK)
	require.False(t, resultByName(t, rs, "reset_user_refused demo").OK)
	require.True(t, resultByName(t, rs, "valid_login").OK)

	// The probe user's own reset is shown by a login: 403.
	require.NoError(t, c.RequirePasswordReset(ctx, []string{"probe"}, true))
	require.NoError(t, f.run(&rs, f.incidents.VerifyIncident, contract.IncidentVerifyInput{Target: "demo", ResetUsers: []string{"probe"}}))
	r := resultByName(t, rs, "reset_user_refused probe")
	require.True(t, r.OK, "%+v", r)
	require.Equal(t, http.StatusForbidden, r.Got)
	require.Contains(t, r.Detail, "password_reset_required")
}

func TestVerifyIncident_ReportsAMisbehavingBackend(t *testing.T) {
	// A proxy in front of the backend lets the probe user's token into the admin route.
	f := newRealFixture(t, func(backend string) string {
		u, err := url.Parse(backend)
		require.NoError(t, err)
		proxy := httputil.NewSingleHostReverseProxy(u)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/admin/users" {
				_, _ = w.Write([]byte(`{"users":[]}`))
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	})
	var rs contract.ProbeResults
	require.NoError(t, f.run(&rs, f.incidents.VerifyIncident, contract.IncidentVerifyInput{Incident: "incident-abc", Target: "demo"}))
	require.Len(t, rs.Failed(), 1, "%+v", rs)
	r := resultByName(t, rs, "admin_forbidden_for_user")
	require.False(t, r.OK)
	require.Equal(t, http.StatusOK, r.Got)
	require.Equal(t, "expected 403, got 200", r.Detail)

	// A backend that cannot revoke a session (the fake has no refresh) fails that check.
	g := newFixture(t)
	require.NoError(t, g.run(&rs, g.incidents.VerifyIncident, contract.IncidentVerifyInput{Incident: "incident-abc", Target: "demo"}))
	require.Equal(t, []string{"me_revoked_session_rejected"}, names(rs.Failed()))
	require.Contains(t, resultByName(t, rs, "me_revoked_session_rejected").Detail, "could not revoke a probe session")
}

func TestArchiveTimelineAndWriteReport(t *testing.T) {
	f := newFixture(t)
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ev := func(i int, action string) contract.Event {
		return contract.Event{At: at.Add(time.Duration(i) * time.Minute), Actor: "alice", Action: action, Outcome: "done"}
	}
	part := contract.ArchiveInput{Incident: "incident-abc", Part: 1, Events: []contract.Event{ev(0, "declared"), ev(1, "owner taken")}}
	var ref contract.ArtifactRef
	require.NoError(t, f.run(&ref, f.incidents.ArchiveTimeline, part))
	require.Equal(t, filepath.Join(f.dir, "var/artifacts/incident-abc/timeline-part-1.json"), ref.Path)
	require.Equal(t, 2, ref.Events)
	var again contract.ArtifactRef
	require.NoError(t, f.run(&again, f.incidents.ArchiveTimeline, part))
	require.Equal(t, ref, again, "a retry writes the same content")

	rep := contract.Report{WorkflowID: "incident-abc", Runbook: "auth-incident", Targets: []string{"demo"}, Outcome: "resolved",
		Summary: "contained", Timeline: []contract.Event{ev(2, "snapshot taken")}, Archived: []contract.ArtifactRef{ref}}
	var refs []contract.ArtifactRef
	require.NoError(t, f.run(&refs, f.incidents.WriteReport, contract.ReportInput{WorkflowID: "incident-abc", Report: rep}))
	require.Len(t, refs, 2)
	require.Equal(t, filepath.Join(f.dir, "var/artifacts/incident-abc/report.md"), refs[0].Path)
	require.Equal(t, filepath.Join(f.dir, "var/artifacts/incident-abc/report.json"), refs[1].Path)
	for _, r := range refs {
		b, err := os.ReadFile(r.Path)
		require.NoError(t, err)
		require.Equal(t, digest(b), r.Digest)
	}
	b, err := os.ReadFile(refs[1].Path)
	require.NoError(t, err)
	var written contract.Report
	require.NoError(t, json.Unmarshal(b, &written))
	require.Equal(t, []contract.Event{ev(0, "declared"), ev(1, "owner taken"), ev(2, "snapshot taken")}, written.Timeline,
		"the archived part is back in front of the timeline")
	require.Equal(t, []contract.ArtifactRef{ref}, written.Archived)
	md, err := os.ReadFile(refs[0].Path)
	require.NoError(t, err)
	require.Contains(t, string(md), "owner taken")
	require.Contains(t, string(md), "snapshot taken")

	// A part that changed since it was archived is not trusted: the report shows the gap.
	require.NoError(t, os.WriteFile(ref.Path, []byte(`{"events":[{"action":"forged"}]}`), 0o600))
	outside := contract.ArtifactRef{Path: filepath.Join(f.dir, "backend.env"), Digest: ref.Digest}
	rep.Archived = []contract.ArtifactRef{ref, outside}
	require.NoError(t, f.run(&refs, f.incidents.WriteReport, contract.ReportInput{WorkflowID: "incident-abc", Report: rep}))
	b, err = os.ReadFile(refs[1].Path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &written))
	require.Len(t, written.Timeline, 3)
	require.Equal(t, "archived timeline part missing", written.Timeline[0].Action)
	require.Contains(t, written.Timeline[0].Detail, "digest mismatch")
	require.Contains(t, written.Timeline[1].Detail, "not under the artifacts directory")
	require.NotContains(t, string(b), "forged")
	require.NotContains(t, string(b), f.initial)
}

// fakeLister answers ListWorkflow with running incidents and their frozen targets.
type fakeLister struct {
	frozen    map[string][]string // incident -> targets
	namespace string
	err       error
}

func (l *fakeLister) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	l.namespace = req.GetNamespace()
	if l.err != nil {
		return nil, l.err
	}
	resp := &workflowservice.ListWorkflowExecutionsResponse{}
	for id, targets := range l.frozen {
		p, err := converter.GetDefaultDataConverter().ToPayload(targets)
		if err != nil {
			return nil, err
		}
		resp.Executions = append(resp.Executions, &workflowpb.WorkflowExecutionInfo{
			Execution:        &commonpb.WorkflowExecution{WorkflowId: id},
			SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{contract.AttrFrozenTargets.GetName(): p}},
		})
	}
	return resp, nil
}

func TestFrozenBy(t *testing.T) {
	f := newFixture(t)
	var by string
	// No client: nothing can be read, and nothing is reported frozen.
	require.NoError(t, f.run(&by, f.incidents.FrozenBy, contract.FreezeInput{Target: "demo"}))
	require.Empty(t, by)
	require.Contains(t, f.logs.String(), "no Temporal client to read freezes with")

	l := &fakeLister{frozen: map[string][]string{"incident-b": {"demo", "eu"}, "incident-a": {"demo"}, "incident-c": {"eu"}}}
	f.incidents.Freezes = l
	require.NoError(t, f.run(&by, f.incidents.FrozenBy, contract.FreezeInput{Target: "demo"}))
	require.Equal(t, "incident-a", by, "the first incident, by id")
	require.NotEmpty(t, l.namespace)
	require.NoError(t, f.run(&by, f.incidents.FrozenBy, contract.FreezeInput{Target: "demo", Exempt: "incident-a"}))
	require.Equal(t, "incident-b", by, "the exempt incident does not freeze its own runs")

	l.frozen = map[string][]string{"incident-a": {"demo"}}
	require.NoError(t, f.run(&by, f.incidents.FrozenBy, contract.FreezeInput{Target: "demo", Exempt: "incident-a"}))
	require.Empty(t, by)

	l.err = fmt.Errorf("visibility unavailable")
	err := f.run(&by, f.incidents.FrozenBy, contract.FreezeInput{Target: "demo"})
	require.ErrorContains(t, err, "visibility unavailable")
	err = f.run(&by, f.incidents.FrozenBy, contract.FreezeInput{Target: "prod"})
	requireNonRetryable(t, err, `unknown target "prod"`)
}
