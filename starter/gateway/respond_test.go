package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRespondKeepsResponseURLOutOfTheLog: a response_url lets anyone post into the user's Slack
// for half an hour; a failed post logs the failure, never the URL.
func TestRespondKeepsResponseURLOutOfTheLog(t *testing.T) {
	var logs bytes.Buffer
	s := New(Options{Log: slog.New(slog.NewTextHandler(&logs, nil)), WorkTimeout: time.Second, APIURL: "http://127.0.0.1:1/api/"})
	t.Cleanup(s.Close)
	// Nothing listens there: the post fails and net/http quotes the URL in its error.
	url := "http://127.0.0.1:1/actions/T0SECRET/1234/Zq9xSecretPath"
	s.respond(context.Background(), url, "done")
	if !strings.Contains(logs.String(), "response_url post failed") {
		t.Fatalf("the failure was not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "Zq9xSecretPath") {
		t.Fatalf("the response_url reached the log: %s", logs.String())
	}
}

// TestRespondOnlyToSlacksHost: the gateway posts to a response_url only on hooks.slack.com over
// https, or on the host of SLACK_API_URL (a test server); any other is refused, logged and
// counted, and nothing is posted.
func TestRespondOnlyToSlacksHost(t *testing.T) {
	var got atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { got.Add(1) }))
	t.Cleanup(elsewhere.Close)
	var logs bytes.Buffer
	s := New(Options{Log: slog.New(slog.NewTextHandler(&logs, nil)), WorkTimeout: time.Second})
	t.Cleanup(s.Close)
	s.respond(context.Background(), elsewhere.URL+"/actions/T1/1/SecretPath", "done")
	require.Zero(t, got.Load(), "nothing is posted off Slack's host")
	require.Equal(t, 1, s.ResponseURLsRefused())
	require.Contains(t, logs.String(), "response_url refused, nothing posted")
	require.NotContains(t, logs.String(), "SecretPath", "the capability stays out of the log")

	// With SLACK_API_URL on that host (a test Slack), the same post goes through.
	s2 := New(Options{WorkTimeout: time.Second, APIURL: elsewhere.URL + "/api/"})
	t.Cleanup(s2.Close)
	s2.respond(context.Background(), elsewhere.URL+"/actions/T1/1/SecretPath", "done")
	require.Equal(t, int32(1), got.Load())
	require.Zero(t, s2.ResponseURLsRefused())

	for u, ok := range map[string]bool{
		"https://hooks.slack.com/actions/T1/1/x":      true,
		"https://hooks.slack.com:443/actions/T1/1/x":  true,
		"http://hooks.slack.com/actions/T1/1/x":       false,
		"https://hooks.slack.com:8443/actions/T1/1/x": false,
		"https://hooks.slack.com.example.org/x":       false,
		"https://example.org/hooks.slack.com":         false,
		"https://user@evil.example/x":                 false,
		"/actions/T1/1/x":                             false,
		"http://127.0.0.1:9/x":                        false,
	} {
		require.Equal(t, ok, s.checkResponseURL(u) == "", u)
	}
	withAPI := New(Options{APIURL: "http://127.0.0.1:9000/api/"})
	t.Cleanup(withAPI.Close)
	require.Empty(t, withAPI.checkResponseURL("http://127.0.0.1:9001/response"), "the test Slack's host")
	require.NotEmpty(t, withAPI.checkResponseURL("https://127.0.0.1:9001/response"), "not its scheme")
	require.NotEmpty(t, withAPI.checkResponseURL("http://localhost:9001/response"), "not its host")
}
