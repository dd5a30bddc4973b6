package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"gopkg.in/yaml.v3"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/testenv"
	"github.com/authops/authops/starter/gateway"
)

// The shipped detection configs (deploy/), which the tests below run as they are, but for the
// addresses, paths and timings a test must choose.
const (
	rulesFile        = "../deploy/prometheus/authops-rules.yml"
	rulesTestFile    = "../deploy/prometheus/authops-rules.test.yml"
	prometheusFile   = "../deploy/prometheus/prometheus.yml"
	alertmanagerFile = "../deploy/alertmanager/alertmanager.yml"
)

// lookTool finds a binary, skipping the test when it is missing unless AUTHOPS_REQUIRE_TOOLS is
// set (make test sets it, and `make deps` installs them).
func lookTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("AUTHOPS_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s is not installed (make deps installs it): %v", name, err)
		}
		t.Skipf("%s is not installed; `make deps` installs it", name)
	}
	return path
}

// TestDetectionRules: the shipped rules, their promtool unit tests (which fire and hold each
// alert on made-up series), the example Prometheus config and the Alertmanager config are valid
// for Debian's promtool and amtool.
func TestDetectionRules(t *testing.T) {
	promtool := lookTool(t, "promtool")
	amtool := lookTool(t, "amtool")
	for _, args := range [][]string{
		{promtool, "check", "rules", rulesFile},
		{promtool, "test", "rules", rulesTestFile},
		{promtool, "check", "config", prometheusFile},
		{amtool, "check-config", alertmanagerFile},
	} {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		require.NoError(t, err, "%s: %s", strings.Join(args, " "), out)
	}
}

// TestDetectionLoop is the detection loop with Debian's real Prometheus and Alertmanager: the
// demo backend's metrics are scraped, a burst of failed logins across many accounts fires the
// shipped rule, Alertmanager (the shipped config) posts it to the gateway's webhook with its
// bearer token, and the gateway declares the incident for the target of the alert with the
// rule's trigger. Alertmanager's repeat of the group is a note on that incident, not a second
// one. Only the rules' `for` and Alertmanager's timings are shortened, so that nothing waits on
// the production values; every wait is for a condition, with minutes to spare.
func TestDetectionLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	promBin := lookTool(t, "prometheus")
	amBin := lookTool(t, alertmanagerBin)
	const token = "e2e-detection-alertmanager-token"
	keyFile, keys := testenv.GatewayKey(t)
	env := startStack(t, testenv.Options{ExtraYAML: keys})
	base := env.StartGateway(t, keyFile, "ALERTMANAGER_TOKEN="+token)
	rec := &groupKeys{}
	recorder := httptest.NewServer(rec)
	defer recorder.Close()

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "alertmanager-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token), 0o600))
	amAddr, promAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	amCfg := writeAlertmanagerConfig(t, dir, base+"/webhooks/alertmanager", tokenFile, recorder.URL)
	promCfg := writePrometheusConfig(t, dir, strings.TrimPrefix(env.BackendURL, "http://"), amAddr)

	amLog := startTool(t, amBin, "alertmanager", "http://"+amAddr, "--config.file="+amCfg,
		"--storage.path="+filepath.Join(dir, "am-data"), "--web.listen-address="+amAddr, "--cluster.listen-address=")
	promURL := "http://" + promAddr
	promLog := startTool(t, promBin, "prometheus", promURL, "--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(dir, "prom-data"), "--web.listen-address="+promAddr)

	// Prometheus scrapes the backend, with the target label the alerts carry.
	require.Eventually(t, func() bool {
		return promQuery(promURL, `authops_demo_login_failed_accounts{target="demo"}`) != ""
	}, 3*time.Minute, 500*time.Millisecond, "prometheus never scraped the backend: %s", promLog.String())

	// The burst: 25 names (the rule's threshold is 20), each failing, none of them a user.
	for n := range 25 {
		body, err := json.Marshal(map[string]string{"username": fmt.Sprintf("stuffed-%02d", n), "password": "guess-123456"})
		require.NoError(t, err)
		resp, err := http.Post(env.BackendURL+"/auth/token", "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	require.Eventually(t, func() bool {
		_, ok := rec.sent("firing")
		return ok
	}, 3*time.Minute, 500*time.Millisecond, "alertmanager never notified; prometheus alerts: %s\nalertmanager: %s",
		promQuery(promURL, "ALERTS"), amLog.String())
	key, _ := rec.sent("firing")
	id := gateway.AlertIncidentID(key)

	// The incident, by its id: declared by the alert, for demo, with the rule's trigger.
	require.Eventually(t, func() bool {
		_, err := env.Client.DescribeWorkflow(context.Background(), id, "")
		return err == nil
	}, 3*time.Minute, 500*time.Millisecond, "no incident %s; alertmanager: %s\ngateway: %s", id, amLog.String(), env.WorkerLog.String())
	waitPhase(t, env, id, "contain")
	var st contract.IncidentStatus
	v, err := env.Client.QueryWorkflow(context.Background(), id, "", contract.QueryIncident)
	require.NoError(t, err)
	require.NoError(t, v.Get(&st))
	require.Equal(t, "credential-stuffing", st.Trigger)
	require.Equal(t, "critical", st.Severity)
	require.Equal(t, gateway.AlertActor, st.Reporter)
	require.Equal(t, []string{"demo"}, st.Targets)
	require.Contains(t, st.Summary, "AuthFailedLoginsManyAccounts")
	out, err := env.Starter(t, "timeline", id)
	require.NoError(t, err, out)

	// Alertmanager repeats the group while it fires: a note on the incident, and no second one.
	require.Eventually(t, func() bool {
		return hasNote(timelineOf(t, env, id), "alert still firing (Alertmanager, 1 firing)")
	}, 3*time.Minute, 500*time.Millisecond, "no repeat note; gateway: %s", env.WorkerLog.String())
	require.Equal(t, 1, countEvents(timelineOf(t, env, id), gateway.AlertActor, "start", "verified"), "one incident, declared once")
	slot, err := env.Client.DescribeWorkflow(context.Background(), contract.AlertSlotID(1), "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, slot.RawResponse.GetWorkflowExecutionInfo().GetStatus())
	_, err = env.Client.DescribeWorkflow(context.Background(), contract.AlertSlotID(2), "")
	var notFound *serviceerror.NotFound
	require.ErrorAs(t, err, &notFound, "the repeat took no second alert slot")

	// The webhook's token is in no history or log, nor in Prometheus' or Alertmanager's output.
	scan := env.LeakScan(t)
	scan.Value("alertmanager token", token)
	scan.Value("jwt secret", env.Secret(t))
	scan.Place("alertmanager log", amLog.String())
	scan.Place("prometheus log", promLog.String())
	scan.Place("timeline", out)
	scan.History(id)
	scan.Check(t)
}

// startTool starts a Prometheus or Alertmanager binary, stopped when the test ends, and waits
// until it answers /-/ready.
func startTool(t *testing.T, bin, name, baseURL string, args ...string) *testenv.SyncBuffer {
	t.Helper()
	var log testenv.SyncBuffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &log, &log
	require.NoError(t, cmd.Start(), "start %s", name)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(baseURL + "/-/ready")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}, 2*time.Minute, 200*time.Millisecond, "%s not ready: %s", name, log.String())
	return &log
}

// promQuery is the JSON of an instant query's result, or "" when it is empty or fails.
func promQuery(promURL, query string) string {
	resp, err := http.Get(promURL + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) == 0 {
		return ""
	}
	out, _ := json.Marshal(r.Data.Result)
	return string(out)
}

// readYAML reads a shipped config as a generic document, to change a few fields of it.
func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(b, &doc), path)
	return doc
}

func writeYAML(t *testing.T, path string, doc any) string {
	t.Helper()
	b, err := yaml.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

func field[T any](t *testing.T, m any, key string) T {
	t.Helper()
	mm, ok := m.(map[string]any)
	require.True(t, ok, "not a mapping where %s is expected: %v", key, m)
	v, ok := mm[key].(T)
	require.True(t, ok, "%s: %T, not the type expected", key, mm[key])
	return v
}

// writeAlertmanagerConfig writes the shipped Alertmanager config with the gateway's webhook, the
// token file, a recorder of the group keys beside the webhook, and second-scale timings: the
// group waits 1s, and repeats every 2s while it fires.
func writeAlertmanagerConfig(t *testing.T, dir, webhook, tokenFile, recorder string) string {
	t.Helper()
	doc := readYAML(t, alertmanagerFile)
	routes := field[[]any](t, doc["route"], "routes")
	require.Len(t, routes, 1)
	route := routes[0].(map[string]any)
	route["group_wait"], route["group_interval"], route["repeat_interval"] = "1s", "1s", "2s"
	found := false
	for _, r := range field[[]any](t, doc, "receivers") {
		if field[string](t, r, "name") != "authops" {
			continue
		}
		found = true
		hooks := field[[]any](t, r, "webhook_configs")
		require.Len(t, hooks, 1)
		hook := hooks[0].(map[string]any)
		hook["url"] = webhook
		auth := field[map[string]any](t, field[map[string]any](t, hook, "http_config"), "authorization")
		auth["credentials_file"] = tokenFile
		r.(map[string]any)["webhook_configs"] = append(hooks, map[string]any{"url": recorder, "send_resolved": true})
	}
	require.True(t, found, "no authops receiver in %s", alertmanagerFile)
	return writeYAML(t, filepath.Join(dir, "alertmanager.yml"), doc)
}

// writePrometheusConfig writes the shipped Prometheus config scraping backend and alerting to
// alertmanager every second, with the shipped rules, each with `for: 0s`.
func writePrometheusConfig(t *testing.T, dir, backend, alertmanager string) string {
	t.Helper()
	rules := readYAML(t, rulesFile)
	n := 0
	for _, g := range field[[]any](t, rules, "groups") {
		for _, r := range field[[]any](t, g, "rules") {
			r.(map[string]any)["for"] = "0s"
			n++
		}
	}
	require.Equal(t, 2, n, "the rules of %s", rulesFile)
	rulesPath := writeYAML(t, filepath.Join(dir, "authops-rules.yml"), rules)

	doc := readYAML(t, prometheusFile)
	global := field[map[string]any](t, doc, "global")
	global["scrape_interval"], global["evaluation_interval"] = "1s", "1s"
	doc["rule_files"] = []any{rulesPath}
	ams := field[[]any](t, doc["alerting"], "alertmanagers")
	require.Len(t, ams, 1)
	field[[]any](t, ams[0], "static_configs")[0].(map[string]any)["targets"] = []any{alertmanager}
	scrapes := field[[]any](t, doc, "scrape_configs")
	require.Len(t, scrapes, 1)
	static := field[[]any](t, scrapes[0], "static_configs")[0].(map[string]any)
	static["targets"] = []any{backend}
	require.Equal(t, "demo", field[string](t, static["labels"], "target"), "the shipped scrape names target demo")
	return writeYAML(t, filepath.Join(dir, "prometheus.yml"), doc)
}
