package testenv

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/authops/authops/internal/demoenv"
)

func (e *Env) configYAML(o Options) string {
	bin := filepath.Join(e.Bin, "authbackend")
	baseURL := e.BackendURL
	if e.probeURL != "" {
		baseURL = e.probeURL
	}
	secretStore := o.SecretStore
	if secretStore == "" {
		secretStore = fmt.Sprintf("{kind: file, dir: %s, name: demo-jwt-secret}", e.Paths.SecretsDir)
	}
	// The demo people sign with the keys demoenv.Prepare generated in this test's demo dir.
	var people strings.Builder
	for _, name := range demoenv.People() {
		fmt.Fprintf(&people, "  %s:\n    slack_id: U%s\n    keys: [{file: %s}]\n",
			name, strings.ToUpper(name), e.Paths.PublicKeyFile(name))
	}
	return fmt.Sprintf(`people:
%stargets:
  demo:
    base_url: %s
    channel: "#auth-ops"
    secret_store: %s
    env_sink: {kind: dotenv, path: %s, key: JWT_SECRET}
    deployer:
      kind: exec
      argv: %s
      dry_run_argv: [%s, --help]
      timeout: %s
      readiness_timeout: %s
    admin: {token: {file: %s}}
    probe:
      username: %s
      password: {file: %s}
      admin_username: %s
      admin_password: {file: %s}
    claims: {issuer: authbackend-demo, role: user, ttl: 15m}
    approvers: [%s, %s, %s]
    rotation:
      approval_timeout: %s
      reminder_interval: 1h
      observation_window: %s
    emergency:
      approval_timeout: %s
    critical_endpoints:
      - {method: GET, path: /healthz, expected_status: 200}
      - {method: GET, path: /auth/me, expected_status: 401}
      - {method: GET, path: /admin/users, as: user, expected_status: 403}
      - {method: GET, path: /admin/users, as: admin, expected_status: 200}
%s
timeouts: %s
%s`, people.String(), baseURL, secretStore, e.Paths.EnvFile, deployArgv(bin, e.Paths.PidFile, o), bin, o.DeployTimeout, o.ReadinessTimeout, e.Paths.AdminTokenFile,
		demoenv.UserProbe, e.Paths.PasswordFile(demoenv.UserProbe),
		demoenv.UserProbeAdmin, e.Paths.PasswordFile(demoenv.UserProbeAdmin),
		demoenv.PersonAlice, demoenv.PersonBob, demoenv.PersonCarol,
		o.ApprovalTimeout, o.ObservationWindow, o.ApprovalTimeout, indent(o.ExtraTargetYAML)+extraTargets(o.ExtraTargets), o.Timeouts, o.ExtraYAML)
}

func deployArgv(bin, pidFile string, o Options) string {
	restart := fmt.Sprintf("%s restart --pid-file %s --timeout 15s", bin, pidFile)
	switch {
	case o.DeployCommand != "":
		return fmt.Sprintf("[/bin/sh, -c, %q]", o.DeployCommand)
	case o.DeployFailures > 0 || o.DeployHoldAt > 0:
		count := pidFile + ".deploys"
		script := fmt.Sprintf("n=$(cat %[1]s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]s; ", count)
		if o.DeployFailures > 0 {
			script += fmt.Sprintf("if [ $n -le %d ]; then echo deploy $n broken >&2; exit 7; fi; ", o.DeployFailures)
		}
		if o.DeployHoldAt > 0 {
			// Held for ten minutes at most, so that a test that fails never leaves it waiting.
			script += fmt.Sprintf("if [ $n -eq %d ]; then touch %s; i=0; while [ ! -e %s ] && [ $i -lt 6000 ]; do sleep 0.1; i=$((i+1)); done; fi; ",
				o.DeployHoldAt, heldFile(pidFile), releaseFile(pidFile))
		}
		return fmt.Sprintf("[/bin/sh, -c, %q]", script+fmt.Sprintf("sleep %g; exec %s", o.DeployDelay.Seconds(), restart))
	case o.DeployDelay > 0:
		return fmt.Sprintf("[/bin/sh, -c, %q]", fmt.Sprintf("sleep %g; exec %s", o.DeployDelay.Seconds(), restart))
	}
	return "[" + strings.ReplaceAll(restart, " ", ", ") + "]"
}

// extraTargets renders more entries of targets:, sorted by name.
func extraTargets(ts map[string]string) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		fmt.Fprintf(&b, "  %s:\n%s", name, indent(ts[name]))
	}
	return b.String()
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// heldFile is created by the redeploy that DeployHoldAt holds, once it has started.
func heldFile(pidFile string) string { return pidFile + ".held" }

// releaseFile lets the held redeploy go on.
func releaseFile(pidFile string) string { return pidFile + ".release" }
