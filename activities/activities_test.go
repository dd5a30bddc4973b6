package activities

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/envfile"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/secretstore"
)

const (
	probePassword = "probe-pa55word-Zq9"
	adminToken    = "adm1n-t0ken-Xw2"
	accessToken   = "access-t0ken-Kp4"
	refreshToken  = "refresh-t0ken-Lm7"
	sessionCookie = "sess10n-c00kie-Rt3"
	// The admin probe (padmin) of the configs that name one.
	adminPassword    = "padm1n-pa55word-Hv6"
	adminAccessToken = "adm1n-access-t0ken-Qe8"
	storeName        = "demo-jwt-secret"
	// The lines around JWT_SECRET, which the activities must leave alone.
	envHead = "# demo backend\nPORT=8081\n"
	envTail = "export LOG_LEVEL=info # keep\n\nDB_URL='postgres://u@h/db'\n"
)

// deployScript is the exec deployer: it prints the env file, secret included, the way a careless
// deploy tool would. --dry-run only proves the path works.
const deployScript = `#!/bin/sh
if [ "$1" = "--dry-run" ]; then echo "dry run ok"; exit 0; fi
if [ "$1" = "--broken-dry-run" ]; then cat backend.env; echo "cannot reach the orchestrator"; exit 3; fi
echo "deploying with:"
cat "$1"
echo "JWT_SECRET is $(grep '^JWT_SECRET=' "$1" | cut -d= -f2-)"
echo "admin token $(cat admin.token), probe password $(cat passwords/probe)"
echo "restarted"
`

// fixture is a target on disk (env file, secret store, deploy script, credentials) pointing at a
// fake backend, and the activities under test in a TestActivityEnvironment.
type fixture struct {
	t       *testing.T
	dir     string
	initial string // the secret the env file holds at the start
	cfg     *config.Config
	// The activity types under test, all on cfg and the fake backend.
	policies  *Policies
	secrets   *Secrets
	probes    *Probes
	incidents *Incidents
	notes     *Notifications
	env       *testsuite.TestActivityEnvironment
	logs      *syncBuffer

	healthz     atomic.Int64 // /healthz requests
	unhealthyN  atomic.Int64 // answer 503 to this many /healthz requests first
	neverHealth atomic.Bool
	busyLogins  atomic.Int64 // answer 503 to this many logins first
	logins      atomic.Int64 // logins answered, by anyone
	// pairLogins makes each login wait (up to 5 s) until a second one is in flight, so that a
	// test sees whether two logins overlap; maxInFlight is the most that did.
	pairLogins  atomic.Bool
	inFlight    atomic.Int64
	maxInFlight atomic.Int64

	mu      sync.Mutex
	results []string // JSON of every activity result and error text

	// restricted is the fake backend's route restrictions (prefix -> status), set through its
	// control API or directly by a test.
	routesMu   sync.Mutex
	restricted map[string]int
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// newSecret returns 32 random bytes in padded base64url: 44 characters.
func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	s := base64.URLEncoding.EncodeToString(b)
	require.Len(t, s, 44)
	return s
}

func newFixture(t *testing.T, edits ...func(yaml string) string) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), initial: newSecret(t), logs: &syncBuffer{}}

	srv := httptest.NewServer(f.backend())
	t.Cleanup(srv.Close)

	write := func(name, content string, mode os.FileMode) {
		p := filepath.Join(f.dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
		require.NoError(t, os.Chmod(p, mode))
	}
	write("backend.env", envHead+"JWT_SECRET="+f.initial+"\n"+envTail, 0o600)
	write("passwords/probe", probePassword+"\n", 0o600)
	write("admin.token", adminToken+"\n", 0o600)
	write("deploy.sh", deployScript, 0o700)

	doc := fmt.Sprintf(`targets:
  demo:
    base_url: %s
    channel: "#auth-ops"
    secret_store: {kind: file, dir: secrets, name: %s}
    env_sink: {kind: dotenv, path: backend.env, key: JWT_SECRET}
    deployer:
      kind: exec
      argv: [deploy.sh, backend.env]
      dry_run_argv: [deploy.sh, --dry-run]
      timeout: 10s
      readiness_timeout: 5s
    admin: {token: {file: admin.token}}
    probe:
      username: probe
      password: {file: passwords/probe}
    claims: {issuer: authbackend-demo}
    approvers: [alice, bob]
people:
  alice: {keys: [%q]}
  bob: {keys: [%q]}
`, srv.URL, storeName, personKey(t), personKey(t))
	for _, e := range edits {
		doc = e(doc)
	}
	cfg, err := config.Parse([]byte(doc), f.dir)
	require.NoError(t, err)
	f.cfg = cfg

	targets := Targets{Config: cfg, HTTP: srv.Client()}
	f.policies = &Policies{Config: cfg}
	f.secrets = &Secrets{Targets: targets}
	f.probes = &Probes{Targets: targets}
	f.incidents = &Incidents{Targets: targets}
	f.notes = &Notifications{Config: cfg, Notifier: notify.Log{Logger: slog.New(slog.NewJSONHandler(f.logs, nil))}, HTTP: srv.Client()}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewJSONHandler(f.logs, nil))))
	f.env = suite.NewTestActivityEnvironment()
	for _, a := range []any{f.policies, f.secrets, f.probes, f.incidents, f.notes} {
		f.env.RegisterActivity(a)
	}

	// Registered after t.TempDir, so it runs first, while the store is still there.
	t.Cleanup(f.assertNoSecrets)
	return f
}

// personKey returns a fresh public key as an authorized_keys line.
func personKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sp, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
}

// restrict sets (status > 0) or lifts (status 0) a route restriction on the fake backend.
func (f *fixture) restrict(prefix string, status int) {
	f.routesMu.Lock()
	defer f.routesMu.Unlock()
	if f.restricted == nil {
		f.restricted = map[string]int{}
	}
	if status == 0 {
		delete(f.restricted, prefix)
	} else {
		f.restricted[prefix] = status
	}
}

// restrictedStatus is the status a restriction answers for path, or 0.
func (f *fixture) restrictedStatus(path string) int {
	f.routesMu.Lock()
	defer f.routesMu.Unlock()
	for p, st := range f.restricted {
		if path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			return st
		}
	}
	return 0
}

// backend is a fake of the demo backend's contract, enough for the probes and the readiness
// wait, with /admin/users (admins only) and the route restrictions of the control API.
func (f *fixture) backend() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/users", func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "Bearer " + adminAccessToken:
			_, _ = io.WriteString(w, `{"users":[]}`)
		case "Bearer " + accessToken:
			http.Error(w, `{"error":"forbidden"}`, http.StatusForbidden) // the probe user is no admin
		default:
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		}
	})
	control := func(h func(w http.ResponseWriter, r *http.Request)) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+adminToken {
				http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /_control/state", control(func(w http.ResponseWriter, r *http.Request) {
		f.routesMu.Lock()
		routes := []map[string]any{}
		for p, st := range f.restricted {
			routes = append(routes, map[string]any{"prefix": p, "status": st})
		}
		f.routesMu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"restricted_routes": routes, "log_level": "info"})
	}))
	mux.HandleFunc("POST /_control/routes/restrict", control(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Prefixes []string `json:"prefixes"`
			Status   int      `json:"status"`
		}
		if json.NewDecoder(r.Body).Decode(&in) != nil {
			http.Error(w, `{"error":"bad_request"}`, http.StatusBadRequest)
			return
		}
		for _, p := range in.Prefixes {
			f.restrict(p, in.Status)
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	mux.HandleFunc("POST /_control/routes/lift", control(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Prefixes []string `json:"prefixes"`
		}
		if json.NewDecoder(r.Body).Decode(&in) != nil {
			http.Error(w, `{"error":"bad_request"}`, http.StatusBadRequest)
			return
		}
		for _, p := range in.Prefixes {
			f.restrict(p, 0)
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	restricting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/_control/") && r.URL.Path != "/healthz" {
			if st := f.restrictedStatus(r.URL.Path); st != 0 {
				http.Error(w, `{"error":"route_restricted"}`, st)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		n := f.healthz.Add(1)
		if f.neverHealth.Load() || n <= f.unhealthyN.Load() {
			http.Error(w, `{"error":"starting"}`, http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ok","pid":1}`)
	})
	mux.HandleFunc("POST /auth/token", func(w http.ResponseWriter, r *http.Request) {
		if f.busyLogins.Add(-1) >= 0 {
			http.Error(w, `{"error":"busy"}`, http.StatusServiceUnavailable)
			return
		}
		f.logins.Add(1)
		n := f.inFlight.Add(1)
		defer f.inFlight.Add(-1)
		for m := f.maxInFlight.Load(); n > m && !f.maxInFlight.CompareAndSwap(m, n); m = f.maxInFlight.Load() {
		}
		for deadline := time.Now().Add(5 * time.Second); f.pairLogins.Load() && f.maxInFlight.Load() < 2 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		var in struct{ Username, Password string }
		token := accessToken
		switch err := json.NewDecoder(r.Body).Decode(&in); {
		case err == nil && in.Username == "probe" && in.Password == probePassword:
		case err == nil && in.Username == "padmin" && in.Password == adminPassword:
			token = adminAccessToken
		default:
			http.Error(w, `{"error":"invalid_credentials"}`, http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: sessionCookie, Path: "/", HttpOnly: true})
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": token, "token_type": "Bearer", "expires_in": 900, "refresh_token": refreshToken,
		})
	})
	mux.HandleFunc("GET /auth/me", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+accessToken {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"username":"probe","role":"user"}`)
	})
	return restricting
}

// run executes one activity, records its result (or error) for the secret scan, and decodes the
// result into out when out is not nil.
// adopt runs the pre-checks of a run with key and, as the workflow does when they report
// NeedsAdoption, adopts the live secret into the store; the result holds the current version.
func (f *fixture) adopt(t *testing.T, key string) contract.PreCheckResult {
	t.Helper()
	var res contract.PreCheckResult
	require.NoError(t, f.run(&res, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: key}))
	require.True(t, res.OK, "%+v", res.Checks)
	if res.NeedsAdoption {
		require.NoError(t, f.run(&res.Current, f.secrets.AdoptLiveSecret, contract.AdoptInput{Target: "demo", IdempotencyKey: key}))
	}
	return res
}

func (f *fixture) run(out any, fn any, in any) error {
	f.t.Helper()
	val, err := f.env.ExecuteActivity(fn, in)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.results = append(f.results, err.Error())
		// What reaches history of a failure: its message, type, cause chain and details. (JSON of an
		// ApplicationError is always {}: it has no exported fields, and would search nothing.)
		f.results = append(f.results, fmt.Sprintf("%+v", err))
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) && ae.HasDetails() {
			var details any
			if derr := ae.Details(&details); derr == nil {
				b, merr := json.Marshal(details)
				require.NoError(f.t, merr)
				f.results = append(f.results, string(b))
			}
		}
		return err
	}
	if out != nil {
		require.NoError(f.t, val.Get(out))
		b, err := json.Marshal(out)
		require.NoError(f.t, err)
		f.results = append(f.results, string(b))
	}
	return nil
}

func (f *fixture) store() *secretstore.File {
	f.t.Helper()
	s, err := secretstore.OpenFile(filepath.Join(f.dir, "secrets"), storeName)
	require.NoError(f.t, err)
	return s
}

func (f *fixture) value(id string) string {
	f.t.Helper()
	v, err := f.store().Value(context.Background(), id)
	require.NoError(f.t, err)
	return v
}

func (f *fixture) envFile() string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "backend.env"))
	require.NoError(f.t, err)
	return string(b)
}

func (f *fixture) setEnvSecret(v string) {
	f.t.Helper()
	_, err := envfile.Dotenv{Path: filepath.Join(f.dir, "backend.env")}.Set("JWT_SECRET", v)
	require.NoError(f.t, err)
}

// secretValues is every value that must never leave the activities: each version the store holds,
// whatever the env file holds, and the credentials.
func (f *fixture) secretValues() []string {
	out := []string{f.initial, probePassword, adminToken, accessToken, refreshToken, sessionCookie, adminPassword, adminAccessToken}
	if v, ok, err := (envfile.Dotenv{Path: filepath.Join(f.dir, "backend.env")}).Get("JWT_SECRET"); err == nil && ok && v != "" {
		out = append(out, v)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "secrets", storeName+".json")); err == nil {
		s := f.store()
		vs, err := s.List(context.Background())
		require.NoError(f.t, err)
		for _, v := range vs {
			if val, err := s.Value(context.Background(), v.ID); err == nil {
				out = append(out, val)
			}
		}
	}
	return out
}

func (f *fixture) assertNoSecrets() {
	f.mu.Lock()
	defer f.mu.Unlock()
	secrets := f.secretValues()
	logs := f.logs.String()
	for _, s := range secrets {
		for _, r := range f.results {
			require.NotContains(f.t, r, s, "an activity result or error holds a secret")
		}
		require.NotContains(f.t, logs, s, "the activity log holds a secret")
	}
}

func TestCreatePendingSecret_IdempotentAndNeverReturnsTheValue(t *testing.T) {
	f := newFixture(t)
	in := contract.SecretInput{Target: "demo", IdempotencyKey: "rotation-demo/run-1"}

	var first, second contract.VersionRef
	require.NoError(t, f.run(&first, f.secrets.CreatePendingSecret, in))
	require.NoError(t, f.run(&second, f.secrets.CreatePendingSecret, in), "a retry with the same key")
	require.Equal(t, first, second, "the retry returns the same version")
	require.NotEmpty(t, first.ID)

	value := f.value(first.ID)
	require.Equal(t, f.store().Fingerprint(value), first.Fingerprint)
	require.NotContains(t, first.Fingerprint, value)
	b, err := json.Marshal(first)
	require.NoError(t, err)
	require.JSONEq(t, fmt.Sprintf(`{"id":%q,"fingerprint":%q}`, first.ID, first.Fingerprint), string(b), "ids and fingerprints only")

	vs, err := f.store().List(context.Background())
	require.NoError(t, err)
	require.Len(t, vs, 1, "one version, not one per attempt")
	require.Equal(t, secretstore.StagePending, vs[0].Stage)
	require.Equal(t, in.IdempotencyKey+"/create", vs[0].IdempotencyKey)

	// Another run cannot start a second pending version.
	err = f.run(nil, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: "rotation-demo/run-2"})
	require.ErrorContains(t, err, "pending")
	vs, err = f.store().List(context.Background())
	require.NoError(t, err)
	require.Len(t, vs, 1)
}

func TestApplySecret_WritesPendingValueOnceAndKeepsOtherLines(t *testing.T) {
	f := newFixture(t)
	key := "rotation-demo/run-1"
	var pc contract.PreCheckResult
	require.NoError(t, f.run(&pc, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: key}))
	var ref contract.VersionRef
	require.NoError(t, f.run(&ref, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: key}))
	pending := f.value(ref.ID)
	require.NotEqual(t, f.initial, pending)

	in := contract.VersionInput{Target: "demo", VersionID: ref.ID}
	var first, second contract.ApplyResult
	require.NoError(t, f.run(&first, f.secrets.ApplySecret, in))
	require.Equal(t, contract.ApplyResult{Key: "JWT_SECRET", Path: "backend.env", VersionID: ref.ID, Fingerprint: ref.Fingerprint, Changed: true}, first)
	require.Equal(t, envHead+"JWT_SECRET="+pending+"\n"+envTail, f.envFile(), "only the JWT_SECRET line changed")

	fi, err := os.Stat(filepath.Join(f.dir, "backend.env"))
	require.NoError(t, err)
	require.NoError(t, f.run(&second, f.secrets.ApplySecret, in), "a retry")
	require.False(t, second.Changed, "the retry writes nothing")
	second.Changed = true
	require.Equal(t, first, second)
	fi2, err := os.Stat(filepath.Join(f.dir, "backend.env"))
	require.NoError(t, err)
	require.True(t, os.SameFile(fi, fi2), "the file was not replaced")
	require.Equal(t, envHead+"JWT_SECRET="+pending+"\n"+envTail, f.envFile())

	// An unknown version is a conflict that is not retried, and the env file stays as it is.
	err = f.run(nil, f.secrets.ApplySecret, contract.VersionInput{Target: "demo", VersionID: "v9-deadbeef"})
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, contract.ErrTypeConflict, ae.Type())
	require.True(t, ae.NonRetryable())
	require.Equal(t, envHead+"JWT_SECRET="+pending+"\n"+envTail, f.envFile())
}

func checkByName(t *testing.T, res contract.PreCheckResult, name string) contract.Check {
	t.Helper()
	for _, c := range res.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, res.Checks)
	return contract.Check{}
}

// The pre-checks of a store with no current version pass and say the live secret needs adopting;
// AdoptLiveSecret then imports it, once.
func TestPreCheck_ThenAdoptTheEnvSecret(t *testing.T) {
	f := newFixture(t)
	res := f.adopt(t, "rotation-demo/run-1")
	for _, name := range []string{"target config valid", "secret store writable", "env sink matches secret store",
		"deploy path configured (dry run)", "probe credentials resolvable", "backend healthy and probe login works"} {
		require.True(t, checkByName(t, res, name).OK, name)
	}
	require.True(t, res.Validation.OK(), "%+v", res.Validation)

	s := f.store()
	require.NotEmpty(t, res.Current.ID)
	require.Equal(t, s.Fingerprint(f.initial), res.Current.Fingerprint, "the running secret was adopted")
	cur, ok, err := s.ByStage(context.Background(), secretstore.StageCurrent)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, res.Current.ID, cur.ID)
	require.Equal(t, f.initial, f.value(cur.ID))
	require.Equal(t, envHead+"JWT_SECRET="+f.initial+"\n"+envTail, f.envFile(), "the env file is only read")

	// Again (a retry, or the next run): the same version, nothing new.
	var again contract.PreCheckResult
	require.NoError(t, f.run(&again, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "rotation-demo/run-2"}))
	require.True(t, again.OK)
	require.Equal(t, res.Current, again.Current)
	vs, err := s.List(context.Background())
	require.NoError(t, err)
	require.Len(t, vs, 1)
}

func TestPreCheck_DriftBetweenEnvAndStore(t *testing.T) {
	f := newFixture(t)
	res := f.adopt(t, "run-1")

	// Somebody edits the env file by hand: the backend no longer runs on the store's current version.
	f.setEnvSecret(newSecret(t))
	var drift contract.PreCheckResult
	require.NoError(t, f.run(&drift, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-2"}))
	require.False(t, drift.OK)
	c := checkByName(t, drift, "env sink matches secret store")
	require.False(t, c.OK)
	require.Contains(t, c.Detail, "env sink holds fingerprint")
	require.Contains(t, c.Detail, res.Current.ID)
	require.Contains(t, c.Detail, res.Current.Fingerprint)
	require.True(t, checkByName(t, drift, "secret store writable").OK, "only the drift check fails")

	// The store is not touched: the old current stays current, nothing is adopted.
	vs, err := f.store().List(context.Background())
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.Equal(t, secretstore.StageCurrent, vs[0].Stage)

	// An env file without the key is a failed check too, not a crash.
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "backend.env"), []byte(envHead+envTail), 0o600))
	require.NoError(t, f.run(&drift, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-3"}))
	require.False(t, drift.OK)
	require.Contains(t, checkByName(t, drift, "env sink matches secret store").Detail, "has no JWT_SECRET")
}

func TestPreCheck_PendingVersionOfAnotherRun(t *testing.T) {
	f := newFixture(t)
	var res contract.PreCheckResult
	require.NoError(t, f.run(&res, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-1"}))
	var ref contract.VersionRef
	require.NoError(t, f.run(&ref, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: "run-1"}))

	var other contract.PreCheckResult
	require.NoError(t, f.run(&other, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-2"}))
	require.False(t, other.OK)
	c := checkByName(t, other, "env sink matches secret store")
	require.False(t, c.OK)
	require.Contains(t, c.Detail, ref.ID)
	require.Contains(t, c.Detail, "pending from another run")

	// The run that created it is not blocked by its own pending version (a retried PreCheck).
	var own contract.PreCheckResult
	require.NoError(t, f.run(&own, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-1"}))
	require.True(t, own.OK, "%+v", own.Checks)
}

func TestMarkSecretFailed_ByIdempotencyKey(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.run(nil, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-1"}))
	var ref contract.VersionRef
	require.NoError(t, f.run(&ref, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: "run-1"}))
	stage := func() secretstore.Stage {
		vs, err := f.store().List(context.Background())
		require.NoError(t, err)
		for _, v := range vs {
			if v.ID == ref.ID {
				return v.Stage
			}
		}
		t.Fatalf("version %s is gone", ref.ID)
		return ""
	}

	// Another run's key: a no-op.
	require.NoError(t, f.run(nil, f.secrets.MarkSecretFailed, contract.VersionInput{Target: "demo", IdempotencyKey: "run-2"}))
	require.Equal(t, secretstore.StagePending, stage())

	// The run's own key finds the version whose id it never learnt.
	require.NoError(t, f.run(nil, f.secrets.MarkSecretFailed, contract.VersionInput{Target: "demo", IdempotencyKey: "run-1"}))
	require.Equal(t, secretstore.StageFailed, stage())

	// Retries, by key and by id, change nothing.
	require.NoError(t, f.run(nil, f.secrets.MarkSecretFailed, contract.VersionInput{Target: "demo", IdempotencyKey: "run-1"}))
	require.NoError(t, f.run(nil, f.secrets.MarkSecretFailed, contract.VersionInput{Target: "demo", VersionID: ref.ID}))
	require.Equal(t, secretstore.StageFailed, stage())

	// The next rotation can start.
	var next contract.VersionRef
	require.NoError(t, f.run(&next, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: "run-3"}))
	require.NotEqual(t, ref.ID, next.ID)
}

func TestPromoteSecret_Idempotent(t *testing.T) {
	f := newFixture(t)
	pc := f.adopt(t, "run-1")
	var ref contract.VersionRef
	require.NoError(t, f.run(&ref, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: "run-1"}))

	in := contract.VersionInput{Target: "demo", VersionID: ref.ID}
	require.NoError(t, f.run(nil, f.secrets.PromoteSecret, in))
	require.NoError(t, f.run(nil, f.secrets.PromoteSecret, in), "a retry")

	ctx := context.Background()
	cur, ok, err := f.store().ByStage(ctx, secretstore.StageCurrent)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, ref.ID, cur.ID)
	prev, ok, err := f.store().ByStage(ctx, secretstore.StagePrevious)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, pc.Current.ID, prev.ID, "the adopted version is kept as previous")

	// Promoting a version that is not pending is a conflict, not retried.
	err = f.run(nil, f.secrets.PromoteSecret, contract.VersionInput{Target: "demo", VersionID: pc.Current.ID})
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, contract.ErrTypeConflict, ae.Type())
}

func TestDeploy_RedactsOutputAndWaitsForHealth(t *testing.T) {
	f := newFixture(t)
	key := "run-1"
	require.NoError(t, f.run(nil, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: key}))
	var ref contract.VersionRef
	require.NoError(t, f.run(&ref, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: key}))
	require.NoError(t, f.run(nil, f.secrets.ApplySecret, contract.VersionInput{Target: "demo", VersionID: ref.ID}))
	pending := f.value(ref.ID)

	// The backend comes back after a few failed health checks.
	f.healthz.Store(0)
	f.unhealthyN.Store(3)
	var res contract.DeployResult
	require.NoError(t, f.run(&res, f.secrets.Deploy, contract.DeployInput{Target: "demo"}))
	require.GreaterOrEqual(t, f.healthz.Load(), int64(4), "Deploy waited for /healthz to answer 200")
	require.Equal(t, 0, res.ExitCode)
	require.Contains(t, res.Output, "deploying with:")
	require.Contains(t, res.Output, "restarted")
	require.Contains(t, res.Output, "PORT=8081", "the rest of the output is kept")
	require.Contains(t, res.Output, "JWT_SECRET=[REDACTED]")
	require.Contains(t, res.Output, "JWT_SECRET is [REDACTED]")
	require.NotContains(t, res.Output, pending)
	require.NotContains(t, res.Output, f.initial)
	require.Contains(t, res.Output, "admin token [REDACTED], probe password [REDACTED]",
		"credentials the deploy command can read are hidden too")
	require.GreaterOrEqual(t, res.ReadyMS, res.DurationMS)

	// A backend that never comes back fails the deploy once the readiness timeout is up.
	g := newFixture(t, func(s string) string {
		return strings.Replace(s, "readiness_timeout: 5s", "readiness_timeout: 300ms", 1)
	})
	require.NoError(t, g.run(nil, g.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: key}))
	g.neverHealth.Store(true)
	err := g.run(&res, g.secrets.Deploy, contract.DeployInput{Target: "demo"})
	require.ErrorContains(t, err, "not ready")
	require.ErrorContains(t, err, "503")
}

func TestDeploy_RedactsASecretTheStoreDoesNotHold(t *testing.T) {
	// Before the first PreCheck (or after the env file was edited by hand) the env file holds a
	// secret that no store version has; the deploy output still must not show it.
	f := newFixture(t)
	var res contract.DeployResult
	require.NoError(t, f.run(&res, f.secrets.Deploy, contract.DeployInput{Target: "demo"}))
	require.Contains(t, res.Output, "restarted")
	require.NotContains(t, res.Output, f.initial)
	require.Contains(t, res.Output, "JWT_SECRET=[REDACTED]")

	// A version that failed (its value still kept) is redacted too.
	require.NoError(t, f.run(nil, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-1"}))
	var ref contract.VersionRef
	require.NoError(t, f.run(&ref, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: "run-1"}))
	failed := f.value(ref.ID)
	require.NoError(t, f.run(nil, f.secrets.MarkSecretFailed, contract.VersionInput{Target: "demo", VersionID: ref.ID}))
	f.setEnvSecret(failed)
	require.NoError(t, f.run(&res, f.secrets.Deploy, contract.DeployInput{Target: "demo"}))
	require.NotContains(t, res.Output, failed)
}

func TestUnknownTarget_IsANonRetryableConfigError(t *testing.T) {
	f := newFixture(t)
	const target = "prod"
	calls := map[string]func() error{
		"LoadPolicy": func() error { return f.run(nil, f.policies.LoadPolicy, target) },
		"PreCheck": func() error {
			return f.run(nil, f.secrets.PreCheck, contract.PreCheckInput{Target: target, IdempotencyKey: "k"})
		},
		"CreatePendingSecret": func() error {
			return f.run(nil, f.secrets.CreatePendingSecret, contract.SecretInput{Target: target, IdempotencyKey: "k"})
		},
		"ApplySecret": func() error {
			return f.run(nil, f.secrets.ApplySecret, contract.VersionInput{Target: target, VersionID: "v1-x"})
		},
		"Deploy": func() error { return f.run(nil, f.secrets.Deploy, contract.DeployInput{Target: target}) },
		"Validate": func() error {
			return f.run(nil, f.probes.Validate, contract.ValidateInput{Target: target, LiveVersionID: "v1-x"})
		},
		"PromoteSecret": func() error {
			return f.run(nil, f.secrets.PromoteSecret, contract.VersionInput{Target: target, VersionID: "v1-x"})
		},
		"MarkSecretFailed": func() error {
			return f.run(nil, f.secrets.MarkSecretFailed, contract.VersionInput{Target: target, IdempotencyKey: "k"})
		},
		"RollBackSecret": func() error {
			return f.run(nil, f.secrets.RollBackSecret, contract.VersionInput{Target: target, VersionID: "v1-x"})
		},
		"AdoptLiveSecret": func() error {
			return f.run(nil, f.secrets.AdoptLiveSecret, contract.AdoptInput{Target: target, IdempotencyKey: "k"})
		},
	}
	before := f.envFile()
	for name, call := range calls {
		err := call()
		var ae *temporal.ApplicationError
		require.ErrorAs(t, err, &ae, name)
		require.Equal(t, contract.ErrTypeConfig, ae.Type(), name)
		require.True(t, ae.NonRetryable(), name)
		require.Contains(t, ae.Error(), `unknown target "prod" (known: demo)`, name)
	}
	// Nothing changed: no store was created, the env file is as it was, nothing was deployed.
	_, err := os.Stat(filepath.Join(f.dir, "secrets"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Equal(t, before, f.envFile())
	require.Zero(t, f.healthz.Load())
}

func TestLoadPolicy_HasNoSecrets(t *testing.T) {
	f := newFixture(t)
	var p contract.Policy
	require.NoError(t, f.run(&p, f.policies.LoadPolicy, "demo"))
	require.Equal(t, "demo", p.Target)
	require.Equal(t, []string{"alice", "bob"}, p.Approvers)
	require.Equal(t, "#auth-ops", p.Channel)
	require.Equal(t, "end", p.ClosedWindow)
	require.Positive(t, p.ApprovalTimeout)
	require.Equal(t, f.cfg.Targets["demo"].Deployer.Timeout.D()+f.cfg.Targets["demo"].Deployer.ReadinessTimeout.D(), p.DeployTimeout)

	b, err := json.Marshal(p)
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(b, &fields))
	for k := range fields {
		for _, bad := range []string{"secret", "password", "token", "env", "ref", "file"} {
			require.NotContains(t, strings.ToLower(k), bad, "policy field %q", k)
		}
	}
	for _, s := range []string{"admin.token", "passwords/probe", "backend.env", "secrets"} {
		require.NotContains(t, string(b), s, "no credential or secret location")
	}
}

func TestPreCheck_FailedDryRunIsRedacted(t *testing.T) {
	// A dry run that fails shows the end of its output in the check; it must not show the secret.
	f := newFixture(t, func(s string) string {
		return strings.Replace(s, "dry_run_argv: [deploy.sh, --dry-run]", "dry_run_argv: [deploy.sh, --broken-dry-run]", 1)
	})
	var res contract.PreCheckResult
	require.NoError(t, f.run(&res, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-1"}))
	require.False(t, res.OK)
	c := checkByName(t, res, "deploy path configured (dry run)")
	require.False(t, c.OK)
	require.Contains(t, c.Detail, "cannot reach the orchestrator")
	require.Contains(t, c.Detail, "JWT_SECRET=[REDACTED]")
	require.NotContains(t, c.Detail, f.initial)
}

func resultByName(t *testing.T, rs contract.ProbeResults, name string) contract.ProbeResult {
	t.Helper()
	for _, r := range rs {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no result %q in %+v", name, rs)
	return contract.ProbeResult{}
}

func TestPreCheck_WritesNothingAndReportsNeedsAdoption(t *testing.T) {
	f := newFixture(t)
	var res contract.PreCheckResult
	require.NoError(t, f.run(&res, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-1"}))
	require.True(t, res.OK, "%+v", res.Checks)
	require.True(t, res.NeedsAdoption)
	require.Empty(t, res.Current, "no current version to report")
	require.Equal(t, f.store().Fingerprint(f.initial), res.LiveFingerprint)
	c := checkByName(t, res, "env sink matches secret store")
	require.True(t, c.OK)
	require.Equal(t, "store has no current version; the live secret will be adopted", c.Detail)

	vs, err := f.store().List(context.Background())
	require.NoError(t, err)
	require.Empty(t, vs, "PreCheck wrote nothing to the store")
	require.Equal(t, envHead+"JWT_SECRET="+f.initial+"\n"+envTail, f.envFile())

	// Once adopted, the same read-only pre-check reports the current version.
	var ref contract.VersionRef
	require.NoError(t, f.run(&ref, f.secrets.AdoptLiveSecret, contract.AdoptInput{Target: "demo", IdempotencyKey: "run-1"}))
	var again contract.PreCheckResult
	require.NoError(t, f.run(&again, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-1"}))
	require.True(t, again.OK, "%+v", again.Checks)
	require.False(t, again.NeedsAdoption)
	require.Equal(t, ref, again.Current)
	require.Empty(t, checkByName(t, again, "env sink matches secret store").Detail)

	// Drift is still a failed check, and still nothing is written.
	f.setEnvSecret(newSecret(t))
	var drift contract.PreCheckResult
	require.NoError(t, f.run(&drift, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-2"}))
	require.False(t, drift.OK)
	require.False(t, drift.NeedsAdoption)
	require.Contains(t, checkByName(t, drift, "env sink matches secret store").Detail, "env sink holds fingerprint")
	vs, err = f.store().List(context.Background())
	require.NoError(t, err)
	require.Len(t, vs, 1)
}

func TestAdoptLiveSecret_Idempotent(t *testing.T) {
	f := newFixture(t)
	in := contract.AdoptInput{Target: "demo", IdempotencyKey: "rotation-demo/run-1"}
	var first, second contract.VersionRef
	require.NoError(t, f.run(&first, f.secrets.AdoptLiveSecret, in))
	require.NoError(t, f.run(&second, f.secrets.AdoptLiveSecret, in), "a retry with the same key")
	require.Equal(t, first, second)
	require.NotEmpty(t, first.ID)
	require.Equal(t, f.store().Fingerprint(f.initial), first.Fingerprint)

	vs, err := f.store().List(context.Background())
	require.NoError(t, err)
	require.Len(t, vs, 1, "one version, not one per attempt")
	require.Equal(t, secretstore.StageCurrent, vs[0].Stage)
	require.Equal(t, in.IdempotencyKey+"/adopt", vs[0].IdempotencyKey)
	require.Equal(t, f.initial, f.value(first.ID))

	// Another run finds the current version matching the sink and gets it back as it is.
	var other contract.VersionRef
	require.NoError(t, f.run(&other, f.secrets.AdoptLiveSecret, contract.AdoptInput{Target: "demo", IdempotencyKey: "rotation-demo/run-2"}))
	require.Equal(t, first, other)
	vs, err = f.store().List(context.Background())
	require.NoError(t, err)
	require.Len(t, vs, 1)

	// A sink that disagrees with the current version is drift: not adopted, not retried.
	f.setEnvSecret(newSecret(t))
	err = f.run(nil, f.secrets.AdoptLiveSecret, contract.AdoptInput{Target: "demo", IdempotencyKey: "rotation-demo/run-3"})
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, contract.ErrTypeConflict, ae.Type())
	require.True(t, ae.NonRetryable())
	require.Contains(t, ae.Error(), "env sink holds fingerprint")
	vs, err = f.store().List(context.Background())
	require.NoError(t, err)
	require.Len(t, vs, 1)
}

// adopted puts the env file's secret into the store and returns its version.
func (f *fixture) adopted() contract.VersionRef {
	f.t.Helper()
	var ref contract.VersionRef
	require.NoError(f.t, f.run(&ref, f.secrets.AdoptLiveSecret, contract.AdoptInput{Target: "demo", IdempotencyKey: "run-1"}))
	return ref
}

func TestValidate_PassedRestrictionDefersPrivilegeCheck(t *testing.T) {
	f := newFixture(t)
	live := f.adopted()
	f.restrict("/admin", http.StatusServiceUnavailable)

	var rs contract.ProbeResults
	require.NoError(t, f.run(&rs, f.probes.Validate, contract.ValidateInput{Target: "demo", LiveVersionID: live.ID,
		Restricted: []contract.RouteRestriction{{Prefix: "/admin", Status: http.StatusServiceUnavailable}}}))

	priv := resultByName(t, rs, "admin_forbidden_for_user")
	require.True(t, priv.Deferred, "%+v", priv)
	require.False(t, priv.OK, "a deferred check is not a pass")
	require.Equal(t, http.StatusForbidden, priv.Expected, "it keeps what it will check once lifted")
	require.Equal(t, http.StatusServiceUnavailable, priv.Got)
	require.Contains(t, priv.Detail, "deferred")

	restricted := resultByName(t, rs, "restricted /admin answers 503")
	require.True(t, restricted.OK, "%+v", restricted)
	require.False(t, restricted.Deferred)
	require.Equal(t, "/admin", restricted.Path)

	require.Equal(t, []string{"admin_forbidden_for_user"}, resultNames(rs.Deferred()))
	require.NotContains(t, resultNames(rs.Failed()), "admin_forbidden_for_user", "deferred is not failed")
	for _, r := range rs {
		require.NotEqual(t, "admin_route_restricted", r.Name, "the privilege check is not swapped for a restriction check")
	}
	require.Equal(t, "/auth/me", resultByName(t, rs, "me_new_token").Path)
	require.True(t, resultByName(t, rs, "me_new_token").OK, "checks outside the prefix run as ever")

	// A restriction passed in but not in place on the backend: the restriction check fails, and
	// the privilege check, which the backend itself answered, keeps its own (passing) outcome.
	f.restrict("/admin", 0)
	rs = nil // decoding into a used slice would keep fields the new JSON omits
	require.NoError(t, f.run(&rs, f.probes.Validate, contract.ValidateInput{Target: "demo", LiveVersionID: live.ID,
		Restricted: []contract.RouteRestriction{{Prefix: "/admin", Status: http.StatusServiceUnavailable}}}))
	require.False(t, resultByName(t, rs, "restricted /admin answers 503").OK)
	priv = resultByName(t, rs, "admin_forbidden_for_user")
	require.True(t, priv.OK, "%+v", priv)
	require.False(t, priv.Deferred)
	require.Empty(t, rs.Deferred())
}

func TestValidate_LiveRestrictionNotPassedDoesNotWeaken(t *testing.T) {
	f := newFixture(t)
	live := f.adopted()
	in := contract.ValidateInput{Target: "demo", LiveVersionID: live.ID}

	// No restriction anywhere: the privilege check passes on its own.
	var rs contract.ProbeResults
	require.NoError(t, f.run(&rs, f.probes.Validate, in))
	require.True(t, resultByName(t, rs, "admin_forbidden_for_user").OK)

	// The backend restricts /admin (another run, or a hand-made control), but this validation was
	// told of no restriction: the privilege check fails instead of being swapped or deferred.
	f.restrict("/admin", http.StatusServiceUnavailable)
	rs = nil
	require.NoError(t, f.run(&rs, f.probes.Validate, in))
	priv := resultByName(t, rs, "admin_forbidden_for_user")
	require.False(t, priv.OK)
	require.False(t, priv.Deferred)
	require.Equal(t, http.StatusForbidden, priv.Expected)
	require.Equal(t, http.StatusServiceUnavailable, priv.Got)
	require.Contains(t, resultNames(rs.Failed()), "admin_forbidden_for_user")
	require.Empty(t, rs.Deferred())
	require.False(t, rs.OK())
	for _, r := range rs {
		require.NotEqual(t, "admin_route_restricted", r.Name)
		require.False(t, strings.HasPrefix(r.Name, "restricted "), "no restriction check for a restriction not passed in")
	}
}

func TestLiftRoutes_RerunsDeferredPrivilegeCheck(t *testing.T) {
	f := newFixture(t)
	in := contract.RoutesInput{Target: "demo", Prefixes: []string{"/admin"}, Status: http.StatusServiceUnavailable}
	require.NoError(t, f.run(nil, f.probes.RestrictRoutes, in))
	require.Equal(t, http.StatusServiceUnavailable, f.restrictedStatus("/admin/users"))

	var rs contract.ProbeResults
	require.NoError(t, f.run(&rs, f.probes.LiftRoutes, in))
	require.Zero(t, f.restrictedStatus("/admin/users"))
	require.True(t, resultByName(t, rs, "restriction_lifted").OK)
	priv := resultByName(t, rs, "admin_forbidden_for_user")
	require.True(t, priv.OK, "%+v", priv)
	require.False(t, priv.Deferred)
	require.Equal(t, "/admin/users", priv.Path)
	require.Equal(t, http.StatusForbidden, priv.Got)
	require.True(t, rs.OK())

	// A lifted prefix that does not cover the admin path has no privilege check to rerun.
	other := contract.RoutesInput{Target: "demo", Prefixes: []string{"/reports"}, Status: http.StatusServiceUnavailable}
	require.NoError(t, f.run(nil, f.probes.RestrictRoutes, other))
	rs = nil
	require.NoError(t, f.run(&rs, f.probes.LiftRoutes, other))
	require.Equal(t, []string{"restriction_lifted"}, resultNames(rs))
}

func TestVerifyCutover_DefersCriticalEndpointsUnderRestriction(t *testing.T) {
	f := newFixture(t, func(s string) string {
		return strings.Replace(s, "    approvers: [alice, bob]\n", "    approvers: [alice, bob]\n"+
			"    critical_endpoints:\n"+
			"      - {method: GET, path: /admin/users, as: user, expected_status: 403}\n"+
			"      - {method: GET, path: /auth/me, as: user, expected_status: 200}\n", 1)
	})
	live := f.adopted()
	f.restrict("/admin", http.StatusServiceUnavailable)

	var rs contract.ProbeResults
	require.NoError(t, f.run(&rs, f.probes.VerifyCutover, contract.CutoverInput{Target: "demo", RunID: "emergency-demo/run-1",
		LiveVersionID: live.ID, Restricted: []string{"/admin"}, RestrictedStatus: http.StatusServiceUnavailable}))

	crit := resultByName(t, rs, "critical GET /admin/users as user")
	require.True(t, crit.Deferred, "%+v", crit)
	require.Equal(t, http.StatusForbidden, crit.Expected, "the endpoint keeps its own expectation")
	require.True(t, resultByName(t, rs, "critical GET /auth/me as user").OK)
	require.True(t, resultByName(t, rs, "admin_forbidden_for_user").Deferred)
	require.True(t, resultByName(t, rs, "restricted /admin answers 503").OK)
	n := 0
	for _, r := range rs {
		if strings.HasPrefix(r.Name, "restricted ") {
			n++
		}
	}
	require.Equal(t, 1, n, "each restricted prefix is checked once")
	require.ElementsMatch(t, []string{"critical GET /admin/users as user", "admin_forbidden_for_user"}, resultNames(rs.Deferred()))
}

// After the rotation's own validation passed, the verification checks the old session and the
// critical endpoints and does not log in to repeat that validation.
func TestVerifyCutover_SkipsTheRotationsPassedValidation(t *testing.T) {
	f := newFixture(t, func(s string) string {
		return strings.Replace(s, "    approvers: [alice, bob]\n", "    approvers: [alice, bob]\n"+
			"    critical_endpoints:\n"+
			"      - {method: GET, path: /healthz, expected_status: 200}\n", 1)
	})
	live := f.adopted()
	in := contract.CutoverInput{Target: "demo", RunID: "emergency-demo/run-1", LiveVersionID: live.ID}

	var full contract.ProbeResults
	require.NoError(t, f.run(&full, f.probes.VerifyCutover, in))
	require.Contains(t, resultNames(full), "login")

	in.RotationValidated = true
	var rs contract.ProbeResults
	require.NoError(t, f.run(&rs, f.probes.VerifyCutover, in))
	require.NotContains(t, resultNames(rs), "login")
	require.NotContains(t, resultNames(rs), "prev_secret_token_rejected")
	require.Contains(t, resultNames(rs), "critical GET /healthz as anonymous")
	require.Contains(t, resultNames(rs), "old_session_rejected", "the old session is still checked (this fixture has none)")
}

// withCriticalAsAdmin adds an admin probe and critical endpoints for no one, the probe user and
// the admin probe.
func withCriticalAsAdmin(s string) string {
	s = strings.Replace(s, "      password: {file: passwords/probe}\n", "      password: {file: passwords/probe}\n"+
		"      admin_username: padmin\n      admin_password: {file: passwords/padmin}\n", 1)
	return strings.Replace(s, "    approvers: [alice, bob]\n", "    approvers: [alice, bob]\n"+
		"    critical_endpoints:\n"+
		"      - {method: GET, path: /healthz, expected_status: 200}\n"+
		"      - {method: GET, path: /auth/me, as: user, expected_status: 200}\n"+
		"      - {method: GET, path: /admin/users, as: user, expected_status: 403}\n"+
		"      - {method: GET, path: /admin/users, as: admin, expected_status: 200}\n", 1)
}

// The rotation's validation with the emergency run's cutover checks: one pass after the
// redeploy, in which the probe user's fresh login serves the rotation's checks and the critical
// endpoints alike, and the admin probe logs in at the same time.
func TestValidateCutover_SharesLoginsAndLogsInAtOnce(t *testing.T) {
	f := newFixture(t, withCriticalAsAdmin)
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "passwords/padmin"), []byte(adminPassword+"\n"), 0o600))
	live := f.adopted()
	require.NoError(t, f.run(nil, f.probes.PrepareCanary, contract.CanaryInput{Target: "demo", RunID: "invalidate-demo"}))
	f.logins.Store(0)
	f.pairLogins.Store(true)

	var out contract.CutoverValidation
	require.NoError(t, f.run(&out, f.probes.ValidateCutover, contract.ValidateInput{Target: "demo", LiveVersionID: live.ID, CutoverOf: "invalidate-demo"}))
	require.EqualValues(t, 2, f.logins.Load(), "one login per role, none repeated")
	require.EqualValues(t, 2, f.maxInFlight.Load(), "the two logins overlap")

	// The rotation's checks decide the rotation; the cutover's are the emergency run's.
	require.Contains(t, resultNames(out.Rotation), "login")
	require.Contains(t, resultNames(out.Rotation), "admin_forbidden_for_user")
	require.NotContains(t, resultNames(out.Rotation), "critical GET /healthz as anonymous")
	for _, name := range []string{"critical GET /healthz as anonymous", "critical GET /auth/me as user",
		"critical GET /admin/users as user", "critical GET /admin/users as admin"} {
		r := resultByName(t, out.Cutover, name)
		require.True(t, r.OK, "%+v", r)
	}
	// The canary's session is checked too (this fake never revokes, so it is still accepted).
	require.False(t, resultByName(t, out.Cutover, "old_access_token_rejected").OK)
	require.NotContains(t, resultNames(out.Cutover), "login")

	// Without the emergency run named, there is nothing to check the cutover of.
	err := f.run(nil, f.probes.ValidateCutover, contract.ValidateInput{Target: "demo", LiveVersionID: live.ID})
	require.ErrorContains(t, err, "no emergency run named")
}

// An admin probe whose password cannot be read fails the critical endpoints that need it, as
// checks: it is no error of the validation, so the rotation that runs them does not roll back
// the new secret for it.
func TestValidateCutover_UnreadableAdminPasswordFailsItsChecksOnly(t *testing.T) {
	f := newFixture(t, withCriticalAsAdmin) // passwords/padmin is never written
	live := f.adopted()
	var out contract.CutoverValidation
	require.NoError(t, f.run(&out, f.probes.ValidateCutover, contract.ValidateInput{Target: "demo", LiveVersionID: live.ID, CutoverOf: "invalidate-demo"}))
	require.True(t, resultByName(t, out.Rotation, "login").OK)
	admin := resultByName(t, out.Cutover, "critical GET /admin/users as admin")
	require.False(t, admin.OK)
	require.Contains(t, admin.Detail, "no credentials for the admin probe")
	require.True(t, resultByName(t, out.Cutover, "critical GET /auth/me as user").OK)
}

// The verification on its own (a rotation of older code ran no cutover checks) also logs its
// critical endpoints' roles in at once.
func TestVerifyCutover_CriticalLoginsAtOnce(t *testing.T) {
	f := newFixture(t, withCriticalAsAdmin)
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "passwords/padmin"), []byte(adminPassword+"\n"), 0o600))
	live := f.adopted()
	f.pairLogins.Store(true)
	var rs contract.ProbeResults
	require.NoError(t, f.run(&rs, f.probes.VerifyCutover, contract.CutoverInput{Target: "demo", RunID: "invalidate-demo",
		LiveVersionID: live.ID, RotationValidated: true}))
	require.EqualValues(t, 2, f.logins.Load())
	require.EqualValues(t, 2, f.maxInFlight.Load(), "the two logins overlap")
	require.True(t, resultByName(t, rs, "critical GET /admin/users as admin").OK)
}

func resultNames(rs []contract.ProbeResult) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

// An env sink that cannot be written fails the pre-check, before any version exists. (As root,
// file modes prove nothing: the sink's directory is replaced by a regular file.)
func TestPreCheck_UnwritableEnvSinkFails(t *testing.T) {
	f := newFixture(t, func(yaml string) string {
		return strings.Replace(yaml, "path: backend.env", "path: not-a-dir/backend.env", 1)
	})
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "not-a-dir"), nil, 0o600))
	var res contract.PreCheckResult
	require.NoError(t, f.run(&res, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-1"}))
	require.False(t, res.OK)
	c := checkByName(t, res, "env sink writable")
	require.False(t, c.OK)
	require.Contains(t, c.Detail, "check writable")
	vs, err := f.store().List(context.Background())
	require.NoError(t, err)
	require.Empty(t, vs, "nothing was created")
}

func TestPreCheck_WritableEnvSinkPasses(t *testing.T) {
	f := newFixture(t)
	var res contract.PreCheckResult
	require.NoError(t, f.run(&res, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-1"}))
	require.True(t, checkByName(t, res, "env sink writable").OK)
	require.Equal(t, envHead+"JWT_SECRET="+f.initial+"\n"+envTail, f.envFile(), "the check changed nothing")
}

// A backend that misses one probe does not fail the pre-checks: the probe is tried again. Two
// misses in a row do.
func TestPreCheck_ProbeRetriedOnce(t *testing.T) {
	f := newFixture(t)
	f.busyLogins.Store(1)
	var res contract.PreCheckResult
	require.NoError(t, f.run(&res, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-1"}))
	require.True(t, checkByName(t, res, "backend healthy and probe login works").OK, "%+v", res.Checks)

	f.busyLogins.Store(2)
	require.NoError(t, f.run(&res, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "run-2"}))
	require.False(t, checkByName(t, res, "backend healthy and probe login works").OK)
}
