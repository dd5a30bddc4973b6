package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRespondKeepsResponseURLOutOfTheLog: a response_url lets anyone post into the user's Slack
// for half an hour; a failed post logs the failure, never the URL.
func TestRespondKeepsResponseURLOutOfTheLog(t *testing.T) {
	var logs bytes.Buffer
	s := New(Options{Log: slog.New(slog.NewTextHandler(&logs, nil)), WorkTimeout: time.Second})
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
