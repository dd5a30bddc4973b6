package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/internal/testenv"
)

// gatewayKey writes a new gateway signing key and returns its file and the config lines that
// list its public key in gateway.keys (pass them in testenv.Options.ExtraYAML).
func gatewayKey(t *testing.T) (keyFile, extraYAML string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "gateway")
	require.NoError(t, err)
	keyFile = filepath.Join(t.TempDir(), "gateway")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600))
	pub, err := ssh.NewPublicKey(priv.Public())
	require.NoError(t, err)
	return keyFile, fmt.Sprintf("gateway:\n  keys: [%q]\n", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))))
}

// startGateway runs this tree's starter as `starter serve` against the stack, with the gateway
// key and the given environment (NAME=value), and returns its base URL once /healthz answers.
// Its log goes to env.WorkerLog.
func startGateway(t *testing.T, env *testenv.Env, keyFile string, vars ...string) string {
	t.Helper()
	dir := t.TempDir()
	starter := filepath.Join(dir, "starter")
	out, err := exec.Command("go", "build", "-o", starter, "../starter").CombinedOutput()
	require.NoError(t, err, string(out))
	addr := freeAddr(t)
	var exports strings.Builder
	for _, v := range append([]string{"AUTHOPS_GATEWAY_KEY=" + keyFile}, vars...) {
		fmt.Fprintf(&exports, "export %q\n", v)
	}
	script := filepath.Join(dir, "gateway.sh")
	require.NoError(t, os.WriteFile(script, []byte(fmt.Sprintf("#!/bin/sh\n%sexec %s serve --addr %s\n",
		exports.String(), starter, addr)), 0o700))
	env.StartWorkerBinary(t, script, filepath.Join(env.Dir, "runbook.yaml"))
	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, env.WorkerLog.String())
	return base
}
