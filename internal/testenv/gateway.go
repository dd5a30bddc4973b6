package testenv

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// GatewayKey writes a new gateway signing key and returns its file and the config lines that
// list its public key in gateway.keys (pass them in Options.ExtraYAML).
func GatewayKey(t testing.TB) (keyFile, extraYAML string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "gateway")
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(t.TempDir(), "gateway")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return keyFile, fmt.Sprintf("gateway:\n  keys: [%q]\n", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))))
}

// StartGateway runs bin/starter as `starter serve` against the stack, with the gateway key and
// the given environment (NAME=value), and returns its base URL once /healthz answers. Its log
// goes to WorkerLog.
func (e *Env) StartGateway(t testing.TB, keyFile string, vars ...string) string {
	t.Helper()
	addr := FreeAddr(t)
	var exports strings.Builder
	for _, v := range append([]string{"AUTHOPS_GATEWAY_KEY=" + keyFile}, vars...) {
		fmt.Fprintf(&exports, "export %s\n", shellQuote(v))
	}
	script := filepath.Join(t.TempDir(), "gateway.sh")
	body := fmt.Sprintf("#!/bin/sh\n%sexec %s serve --addr %s\n", exports.String(), shellQuote(filepath.Join(e.Bin, "starter")), addr)
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	e.StartWorkerBinary(t, script, filepath.Join(e.Dir, "runbook.yaml"))
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gateway not healthy at %s; log:\n%s", base, e.WorkerLog.String())
	return ""
}

// SlackRequest is a POST of a form body to the gateway, signed as Slack signs (v0, HMAC-SHA256
// of "v0:<timestamp>:<body>" with the signing secret), with the current timestamp.
func SlackRequest(t testing.TB, url, secret, body string) *http.Request {
	t.Helper()
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + stamp + ":" + body))
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return req
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
