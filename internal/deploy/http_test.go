package deploy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTTPDeploy(t *testing.T) {
	const token = "webhook-token-XYZ"
	t.Setenv("AUTHOPS_TEST_DEPLOY_TOKEN", token)
	var gotMethod, gotHeader string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotMethod, gotHeader = r.Method, r.Header.Get("X-Deploy-Token")
		// A careless webhook echoes the header back; the report must not.
		_, _ = io.WriteString(w, "deployed with "+gotHeader)
	}))
	defer srv.Close()

	h := HTTP{Method: http.MethodPut, URL: srv.URL + "/deploy", HeadersFromEnv: map[string]string{"X-Deploy-Token": "AUTHOPS_TEST_DEPLOY_TOKEN"}}
	require.NoError(t, h.DryRun(context.Background()))
	rep, err := h.Deploy(context.Background())
	require.NoError(t, err)
	assert.Equal(t, http.MethodPut, gotMethod)
	assert.Equal(t, token, gotHeader)
	assert.Equal(t, 0, rep.ExitCode)
	assert.Equal(t, "deployed with [REDACTED]", rep.Output)
}

func TestHTTPDeployDefaultsToPOST(t *testing.T) {
	var gotMethod string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotMethod = r.Method
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	_, err := HTTP{URL: srv.URL}.Deploy(context.Background())
	require.NoError(t, err)
	assert.Equal(t, http.MethodPost, gotMethod)
}

func TestHTTPDeployNon2xx(t *testing.T) {
	const token = "tok-in-query-123"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "rollout failed", http.StatusInternalServerError)
	}))
	defer srv.Close()
	rep, err := HTTP{URL: srv.URL + "/hook?token=" + token}.Deploy(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "500")
	assert.NotContains(t, err.Error(), token)
	assert.Equal(t, http.StatusInternalServerError, rep.ExitCode)
	assert.Contains(t, rep.Output, "rollout failed")
}

func TestHTTPDeployDoesNotFollowRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://elsewhere.invalid/", http.StatusFound)
	}))
	defer srv.Close()
	rep, err := HTTP{URL: srv.URL}.Deploy(context.Background())
	require.Error(t, err)
	assert.Equal(t, http.StatusFound, rep.ExitCode)
}

func TestHTTPDeployTransportErrorRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	url := srv.URL
	srv.Close()
	rep, err := HTTP{URL: url + "/hook?key=abc123secret", Timeout: time.Second}.Deploy(context.Background())
	require.Error(t, err)
	assert.Equal(t, -1, rep.ExitCode)
	assert.NotContains(t, err.Error(), "abc123secret")
}

func TestHTTPMissingEnv(t *testing.T) {
	var called atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called.Store(true) }))
	defer srv.Close()
	h := HTTP{URL: srv.URL, HeadersFromEnv: map[string]string{"Authorization": "AUTHOPS_TEST_UNSET_VAR"}}

	err := h.DryRun(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AUTHOPS_TEST_UNSET_VAR")

	_, err = h.Deploy(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AUTHOPS_TEST_UNSET_VAR")
	assert.False(t, called.Load(), "no request may be sent without its headers")
}

func TestHTTPDryRunURL(t *testing.T) {
	for _, u := range []string{"", "ftp://host/x", "http://", "://bad", "/relative"} {
		err := HTTP{URL: u}.DryRun(context.Background())
		assert.Error(t, err, "url %q", u)
	}
	err := HTTP{URL: "https://user:pw-secret@host/x", Method: "BAD METHOD"}.DryRun(context.Background())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "pw-secret")
	assert.NoError(t, HTTP{URL: "https://deploy.example.com/hook"}.DryRun(context.Background()))
}

func TestWaitReadyAfter503s(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 4 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	require.NoError(t, WaitReady(context.Background(), srv.URL+"/healthz", 5*time.Second, 20*time.Millisecond))
	assert.Equal(t, int32(4), calls.Load())
}

func TestWaitReadyTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	err := WaitReady(context.Background(), srv.URL+"/healthz", 300*time.Millisecond, 50*time.Millisecond)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "not ready after")
	assert.Contains(t, msg, "attempts")
	assert.Contains(t, msg, "last status 503")
	assert.False(t, strings.Contains(msg, "after 1 attempts"), msg)
}

func TestWaitReadyConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	url := srv.URL
	srv.Close()
	err := WaitReady(context.Background(), url+"/healthz", 200*time.Millisecond, 50*time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "last error")
}

func TestWaitReadyBadURL(t *testing.T) {
	assert.Error(t, WaitReady(context.Background(), "not a url", time.Second, time.Millisecond))
}

// A webhook that echoes what it knows (here the new secret) must not carry it into Output or errors.
func TestHTTPDeployRedactsEchoedValues(t *testing.T) {
	const secret = "s3cr3t-value-that-must-not-leak"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("restart failed, env was JWT_SECRET=" + secret))
	}))
	defer srv.Close()
	rep, err := HTTP{URL: srv.URL, Redact: []string{secret}}.Deploy(context.Background())
	if err == nil {
		t.Fatal("a 502 must fail the deploy")
	}
	if strings.Contains(rep.Output, secret) || strings.Contains(err.Error(), secret) {
		t.Fatalf("secret leaked: output %q, error %q", rep.Output, err)
	}
	if !strings.Contains(rep.Output, "JWT_SECRET=[REDACTED]") {
		t.Fatalf("output should keep the rest of the body: %q", rep.Output)
	}
}
