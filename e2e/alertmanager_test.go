package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/converter"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/testenv"
	"github.com/authops/authops/starter/gateway"
)

// alertmanagerBin is Debian's prometheus-alertmanager; `make test` installs it when missing.
const alertmanagerBin = "prometheus-alertmanager"

// groupKeys is a second webhook receiver of the same Alertmanager route: it records the group
// keys Alertmanager sent, so that the test knows the incident id without computing
// Alertmanager's key format itself.
type groupKeys struct {
	mu   sync.Mutex
	keys []string
	stat []string
}

func (g *groupKeys) ServeHTTP(_ http.ResponseWriter, r *http.Request) {
	var p struct {
		GroupKey string `json:"groupKey"`
		Status   string `json:"status"`
	}
	_ = json.NewDecoder(r.Body).Decode(&p)
	g.mu.Lock()
	g.keys = append(g.keys, p.GroupKey)
	g.stat = append(g.stat, p.Status)
	g.mu.Unlock()
}

func (g *groupKeys) sent(status string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, s := range g.stat {
		if s == status {
			return g.keys[i], true
		}
	}
	return "", false
}

// TestAlertmanagerDeclaresIncident: Debian's real Alertmanager, given alerts through its API,
// notifies the gateway's webhook. With a wrong bearer token nothing is declared; with the right
// one (after a config reload) the firing alert declares the incident, signed as
// alert:alertmanager, in an alert slot, for the target its target label names and no other: that
// target is frozen, a rotation of the other target is not; a second alert of the same group is
// a note on it, not a second incident; and the resolved alert is a note that leaves the incident
// open.
func TestAlertmanagerDeclaresIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	am, err := exec.LookPath(alertmanagerBin)
	if err != nil {
		if os.Getenv("AUTHOPS_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s is not installed (make test installs it): %v", alertmanagerBin, err)
		}
		t.Skipf("%s is not installed; `make test` installs it", alertmanagerBin)
	}
	const token = "e2e-alertmanager-token"
	keyFile, keys := testenv.GatewayKey(t)
	// staging is a second target with no backend: the alert about demo must not freeze it.
	other := t.TempDir()
	env := startStack(t, testenv.Options{ExtraYAML: keys, ExtraTargets: map[string]string{"staging": fmt.Sprintf(`base_url: http://127.0.0.1:1
channel: "#auth-ops"
secret_store: {kind: file, dir: %s, name: staging-jwt-secret}
env_sink: {kind: dotenv, path: %s, key: JWT_SECRET}
deployer: {kind: exec, argv: [/bin/true]}
admin: {token: {env: AUTHOPS_E2E_STAGING_ADMIN_TOKEN}}
probe: {username: probe, password: {env: AUTHOPS_E2E_STAGING_PASSWORD}}
claims: {issuer: staging, role: user, ttl: 15m}
approvers: [alice, bob, carol]
`, filepath.Join(other, "secrets"), filepath.Join(other, "staging.env"))}})
	base := env.StartGateway(t, keyFile, "ALERTMANAGER_TOKEN="+token)

	rec := &groupKeys{}
	recorder := httptest.NewServer(rec)
	defer recorder.Close()

	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "alertmanager.yml")
	writeConfig := func(bearer string) {
		t.Helper()
		cfg := fmt.Sprintf(`route:
  receiver: authops
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: authops
    webhook_configs:
      - url: %s/webhooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %s
      - url: %s
        send_resolved: true
`, base, bearer, recorder.URL)
		require.NoError(t, os.WriteFile(cfgFile, []byte(cfg), 0o600))
	}
	writeConfig("not-the-token")
	amAddr := testenv.FreeAddr(t)
	var amLog testenv.SyncBuffer
	cmd := exec.Command(am, "--config.file="+cfgFile, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = &amLog, &amLog
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	amURL := "http://" + amAddr
	require.Eventually(t, func() bool {
		resp, err := http.Get(amURL + "/-/ready")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "alertmanager not ready: %s", amLog.String())

	post := func(instance string, ends time.Time) {
		t.Helper()
		alert := map[string]any{
			"labels": map[string]string{"alertname": "LoginFailuresHigh", "runbook": gateway.AlertRunbookLabel,
				"trigger": "credential-stuffing", "severity": "critical", "instance": instance, "target": "demo"},
			"annotations":  map[string]string{"summary": "login failures 40x baseline"},
			"generatorURL": "http://prometheus.example/graph",
		}
		if !ends.IsZero() {
			alert["startsAt"] = ends.Add(-time.Minute).UTC().Format(time.RFC3339)
			alert["endsAt"] = ends.UTC().Format(time.RFC3339)
		}
		body, err := json.Marshal([]any{alert})
		require.NoError(t, err)
		resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}

	// A wrong token: Alertmanager sends, the gateway answers 401, nothing is declared.
	post("edge-1", time.Time{})
	require.Eventually(t, func() bool { return strings.Contains(amLog.String(), "401") },
		60*time.Second, 100*time.Millisecond, "alertmanager never reported the gateway's 401: %s", amLog.String())
	key, ok := rec.sent("firing")
	require.True(t, ok, "the recorder saw the notification the gateway refused")
	id := gateway.AlertIncidentID(key)
	_, err = env.Client.DescribeWorkflow(context.Background(), id, "")
	var notFound *serviceerror.NotFound
	require.ErrorAs(t, err, &notFound, "a refused notification declares nothing")

	// The right token: Alertmanager sends the group again and the incident is declared.
	writeConfig(token)
	resp, err := http.Post(amURL+"/-/reload", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, amLog.String())
	require.Eventually(t, func() bool {
		_, err := env.Client.DescribeWorkflow(context.Background(), id, "")
		return err == nil
	}, 60*time.Second, 100*time.Millisecond, "no incident %s; alertmanager: %s\ngateway: %s", id, amLog.String(), env.WorkerLog.String())
	waitPhase(t, env, id, "contain")
	var st contract.IncidentStatus
	v, err := env.Client.QueryWorkflow(context.Background(), id, "", contract.QueryIncident)
	require.NoError(t, err)
	require.NoError(t, v.Get(&st))
	require.Equal(t, gateway.AlertActor, st.Reporter)
	require.Equal(t, "critical", st.Severity)
	require.Equal(t, "credential-stuffing", st.Trigger)
	require.Equal(t, 1, countEvents(timelineOf(t, env, id), gateway.AlertActor, "start", "verified"), "the signed start, verified")

	// The target label's target, and only it, is affected and frozen; the incident holds slot 1.
	require.Equal(t, []string{"demo"}, st.Targets)
	require.Equal(t, []string{"demo"}, st.Frozen)
	slot, err := env.Client.DescribeWorkflow(context.Background(), contract.AlertSlotID(1), "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, slot.RawResponse.GetWorkflowExecutionInfo().GetStatus())
	var holds string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(
		slot.RawResponse.GetWorkflowExecutionInfo().GetMemo().GetFields()[contract.MemoAlertIncident], &holds))
	require.Equal(t, id, holds)
	out, err := env.Starter(t, "freeze", "status", "--json")
	require.NoError(t, err, out)
	require.Contains(t, out, id)
	require.NotContains(t, out, "staging")
	out, err = env.Starter(t, "rotate", "--target", "staging", "--requested-by", "bob")
	require.NoError(t, err, out)
	rot := waitResult[contract.RotationResult](t, env, strings.TrimSpace(out))
	require.NotEqual(t, contract.OutcomeFrozen, rot.Outcome, rot.Summary)
	require.NotContains(t, rot.Summary, "frozen by", "a rotation of another target is not frozen")
	out, err = env.Starter(t, "rotate", "--target", "demo", "--requested-by", "bob")
	require.NoError(t, err, out)
	rot = waitResult[contract.RotationResult](t, env, strings.TrimSpace(out))
	require.Equal(t, contract.OutcomeFrozen, rot.Outcome, rot.Summary)
	require.Contains(t, rot.Summary, "frozen by "+id)

	// A second alert in the same group: a note on the open incident, not a second one.
	post("edge-2", time.Time{})
	require.Eventually(t, func() bool {
		return hasNote(timelineOf(t, env, id), "alert still firing (Alertmanager, 2 firing)")
	}, 60*time.Second, 100*time.Millisecond, "no repeat note; gateway: %s", env.WorkerLog.String())

	// Both resolve: a note, and the incident stays open.
	now := time.Now()
	post("edge-1", now)
	post("edge-2", now)
	require.Eventually(t, func() bool {
		return hasNote(timelineOf(t, env, id), "alert resolved (Alertmanager)")
	}, 60*time.Second, 100*time.Millisecond, "no resolved note; gateway: %s", env.WorkerLog.String())
	_, ok = rec.sent("resolved")
	require.True(t, ok)
	v, err = env.Client.QueryWorkflow(context.Background(), id, "", contract.QueryIncident)
	require.NoError(t, err)
	require.NoError(t, v.Get(&st))
	require.Equal(t, "contain", st.Phase, "a resolved alert does not resolve the incident")
	require.Equal(t, 1, countEvents(timelineOf(t, env, id), gateway.AlertActor, "start", "verified"), "one incident, declared once")
	env.CheckReplay(t, contract.AlertSlotID(1), "", "alert-slot-open")

	// Neither the webhook's token nor the gateway's key reaches a history, a log or Alertmanager's
	// own files; the worker and gateway logs, the backend's and the dev server's database are
	// searched by the scan itself.
	pemKey, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	raw, err := ssh.ParseRawPrivateKey(pemKey)
	require.NoError(t, err)
	priv, ok := raw.(*ed25519.PrivateKey)
	require.True(t, ok, "an ed25519 key")
	scan := env.LeakScan(t)
	scan.Value("alertmanager token", token)
	scan.ValueBytes("gateway private key", priv.Seed())
	scan.Value("jwt secret", env.Secret(t))
	scan.Place("alertmanager log", amLog.String())
	scan.History(id)
	scan.Check(t)
}

func hasNote(evs []contract.Event, text string) bool {
	for _, e := range evs {
		if e.Actor == gateway.AlertActor && e.Action == contract.UpdateNote && strings.Contains(e.Detail, text) {
			return true
		}
	}
	return false
}
