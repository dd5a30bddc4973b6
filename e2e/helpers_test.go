// Package e2e runs the runbooks end to end: real Temporal dev server, real demo backend
// restarted for real, the worker, and bin/starter as an operator would use it.
package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/statement"
	"github.com/authops/authops/internal/testenv"
	"github.com/authops/authops/worker/register"
)

// session is what a backend user holds after login.
type session struct{ Access, Refresh, Cookie string }

// user talks to the demo backend as one of its users.
type user struct {
	env      *testenv.Env
	name, pw string
}

func newUser(t *testing.T, env *testenv.Env, name string) *user {
	return &user{env: env, name: name, pw: env.Password(t, name)}
}

func (u *user) login(t *testing.T) session {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": u.name, "password": u.pw})
	resp, err := http.Post(u.env.BackendURL+"/auth/token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login as %s: status %d", u.name, resp.StatusCode)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		t.Fatal(err)
	}
	s := session{Access: tok.AccessToken, Refresh: tok.RefreshToken}
	for _, c := range resp.Cookies() {
		if c.Name == "session" {
			s.Cookie = c.Value
		}
	}
	if s.Access == "" || s.Refresh == "" || s.Cookie == "" {
		t.Fatalf("login as %s did not return access token, refresh token and cookie", u.name)
	}
	return s
}

func (u *user) me(t *testing.T, access string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u.env.BackendURL+"/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	return status(t, req)
}

func (u *user) meCookie(t *testing.T, cookie string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u.env.BackendURL+"/auth/me", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
	return status(t, req)
}

func (u *user) refresh(t *testing.T, refresh string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"refresh_token": refresh})
	req, _ := http.NewRequest(http.MethodPost, u.env.BackendURL+"/auth/refresh", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return status(t, req)
}

func status(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// startStack starts the stack with the real workflows and activities in process.
func startStack(t *testing.T, o testenv.Options) *testenv.Env {
	t.Helper()
	o.Register = func(r worker.Registry, c client.Client, cfg *config.Config, n notify.Notifier) {
		register.Register(r, register.Deps{Config: cfg, Notifier: n, Runs: c})
	}
	o.Workflows = func(r testenv.WorkflowRegistry) { register.RegisterWorkflows(r) }
	return testenv.Start(t, o)
}

// signStatement signs a statement for actor with the actor's demo key, as the CLI would: over
// comment and args (a decision's Args, a start input's StartArgs).
func signStatement(t *testing.T, env *testenv.Env, actor, workflowID, firstRunID, action, comment, args string) *contract.SignedStatement {
	t.Helper()
	key, err := os.ReadFile(env.Paths.KeyFile(actor))
	require.NoError(t, err)
	signer, err := ssh.ParsePrivateKey(key)
	require.NoError(t, err)
	nonce, err := statement.NewNonce()
	require.NoError(t, err)
	signed, err := statement.Sign(rand.Reader, signer, contract.Statement{
		Namespace: "default", WorkflowID: workflowID, FirstRunID: firstRunID, Action: action, Actor: actor,
		CommentHash: statement.HashComment(comment), ArgsHash: statement.HashArgs(args), IssuedAt: time.Now().UTC(), Nonce: nonce, Client: "e2e",
	})
	require.NoError(t, err)
	return &signed
}

// approvedRotation has alice request a rotation of demo through the CLI and bob approve it, and
// returns the run's id.
func approvedRotation(t *testing.T, env *testenv.Env) string {
	t.Helper()
	out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "alice")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	waitPhase(t, env, id, "waiting for approval")
	out, err = env.Starter(t, "approve", id, "--as", "bob")
	require.NoError(t, err, out)
	return id
}
