package config

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// minimal is the smallest valid config; every other setting takes its default. Key files are
// not read at load, so they need not exist.
const minimal = minimalTarget + minimalPeople

const minimalPeople = `people:
  alice: {keys: [{file: keys/alice.pub}]}
  bob: {keys: [{file: keys/bob.pub}]}
  carol: {keys: [{file: keys/carol.pub}]}
`

const minimalTarget = `targets:
  demo:
    base_url: http://127.0.0.1:8081
    secret_store: {kind: file, dir: secrets, name: demo-jwt-secret}
    env_sink: {kind: dotenv, path: backend.env}
    deployer:
      kind: exec
      argv: [bin/deploy, --now]
    admin:
      token: {file: admin.token}
    probe:
      username: probe
      password: {env: AUTHOPS_TEST_PROBE_PASSWORD}
    claims:
      issuer: authbackend-demo
    approvers: [alice, bob]
`

func parseMinimal(t *testing.T, dir string) *Config {
	t.Helper()
	c, err := Parse([]byte(minimal), dir)
	require.NoError(t, err)
	return c
}

func TestLoad_RepoRunbook(t *testing.T) {
	c, err := Load("../../runbook.yaml")
	require.NoError(t, err)

	repo, err := filepath.Abs("../..")
	require.NoError(t, err)
	require.Equal(t, repo, c.Dir, "relative paths resolve against the file's directory")
	require.Equal(t, []string{"demo"}, c.TargetNames())

	tg, err := c.Target("demo")
	require.NoError(t, err)
	require.Equal(t, "demo", tg.Name)
	require.Equal(t, []string{"alice", "bob", "carol"}, tg.Approvers)
	require.Equal(t, Quorum{Rotation: 1, Emergency: 1}, tg.Quorum)
	require.Equal(t, 24*time.Hour, tg.Rotation.ApprovalValidity.D())
	for _, name := range tg.Approvers {
		p, ok := c.Person(name)
		require.True(t, ok, name)
		require.Equal(t, name, p.Name)
		require.Equal(t, []string{filepath.Join(repo, "var/demo/keys", name+".pub")}, c.KeyFiles(name))
	}
	require.Equal(t, "UALICE", c.PeopleByName["alice"].SlackID)
	require.Equal(t, "http://127.0.0.1:8081", tg.BaseURL)
	require.Equal(t, "exec", tg.Deployer.Kind)
	require.Equal(t, "bin/authbackend", tg.Deployer.Argv[0])
	require.Equal(t, "JWT_SECRET", tg.EnvSink.Key)
	require.Equal(t, filepath.Join(repo, "var/demo/backend.env"), c.Abs(tg.EnvSink.Path))
	require.Equal(t, time.Hour, tg.Rotation.ApprovalTimeout.D())
	require.Equal(t, 15*time.Minute, tg.Claims.TTL.D())
	require.Equal(t, 5*time.Minute, tg.Emergency.ApprovalTimeout.D())
	require.Equal(t, "end", tg.Rotation.ClosedWindow)
	require.Len(t, tg.CriticalEndpoints, 4)

	// Defaults fill what the file leaves out.
	require.Equal(t, http.MethodPost, tg.Deployer.Method)

	// The file holds references only, never a value.
	for _, r := range []Ref{tg.Admin.Token, tg.Probe.Password, tg.Probe.AdminPassword} {
		require.NoError(t, checkRef(r))
	}

	// Parse of the same bytes gives the same config.
	b, err := os.ReadFile("../../runbook.yaml")
	require.NoError(t, err)
	p, err := Parse(b, repo)
	require.NoError(t, err)
	require.Equal(t, c, p)
}

func TestLoad_Errors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorContains(t, err, "not found: pass --config or set AUTHOPS_CONFIG")

	path := filepath.Join(t.TempDir(), "runbook.yaml")
	require.NoError(t, os.WriteFile(path, []byte("targets: {}\n"), 0o600))
	_, err = Load(path)
	require.ErrorContains(t, err, path, "the error names the file")
	require.ErrorContains(t, err, "targets: at least one target is required")
}

func TestParse_Defaults(t *testing.T) {
	c := parseMinimal(t, "/etc/authops")
	tg, err := c.Target("demo")
	require.NoError(t, err)
	require.Equal(t, "/etc/authops", c.Dir)
	require.Equal(t, 60*time.Second, tg.Deployer.Timeout.D())
	require.Equal(t, 30*time.Second, tg.Deployer.ReadinessTimeout.D())
	require.Equal(t, http.MethodPost, tg.Deployer.Method)
	require.Equal(t, 15*time.Minute, tg.Claims.TTL.D())
	require.Equal(t, "user", tg.Claims.Role)
	require.Equal(t, time.Hour, tg.Rotation.ApprovalTimeout.D())
	require.Equal(t, 15*time.Minute, tg.Rotation.ReminderInterval.D())
	require.Equal(t, 15*time.Minute, tg.Rotation.ObservationWindow.D())
	require.Equal(t, "end", tg.Rotation.ClosedWindow)
	require.Equal(t, 5*time.Minute, tg.Emergency.ApprovalTimeout.D())
	require.Equal(t, 24*time.Hour, tg.Rotation.ApprovalValidity.D())
	require.Equal(t, Quorum{Rotation: 1, Emergency: 1}, tg.Quorum)
	require.Equal(t, "JWT_SECRET", tg.EnvSink.Key)
	require.Equal(t, "/admin/users", tg.Probe.AdminPath)
	require.Nil(t, c.Gateway)

	c, err = Parse([]byte(strings.Replace(minimal, "    approvers:",
		"    critical_endpoints:\n      - {path: /healthz, expected_status: 200}\n    approvers:", 1)), "/x")
	require.NoError(t, err)
	require.Equal(t, http.MethodGet, c.Targets["demo"].CriticalEndpoints[0].Method)
}

func TestParse_ExplicitValuesWin(t *testing.T) {
	c, err := Parse([]byte(strings.NewReplacer(
		"    approvers: [alice, bob]\n", `    approvers: [alice, bob]
    quorum: {rotation: 2, emergency: 1}
    rotation: {approval_timeout: 90m, closed_window: next, approval_validity: 2h}
    emergency: {approval_timeout: 30s}
`,
		"      argv: [bin/deploy, --now]\n", "      argv: [bin/deploy, --now]\n      timeout: 2m\n",
		"    env_sink: {kind: dotenv, path: backend.env}", "    env_sink: {kind: dotenv, path: backend.env, key: APP_JWT_KEY}",
	).Replace(minimal)), "/x")
	require.NoError(t, err)
	tg := c.Targets["demo"]
	require.Equal(t, Quorum{Rotation: 2, Emergency: 1}, tg.Quorum)
	require.Equal(t, 2*time.Hour, tg.Rotation.ApprovalValidity.D())
	require.Equal(t, 90*time.Minute, tg.Rotation.ApprovalTimeout.D())
	require.Equal(t, "next", tg.Rotation.ClosedWindow)
	require.Equal(t, 30*time.Second, tg.Emergency.ApprovalTimeout.D())
	require.Equal(t, 2*time.Minute, tg.Deployer.Timeout.D())
	require.Equal(t, "APP_JWT_KEY", tg.EnvSink.Key)
}

func TestParse_DeployerEnv(t *testing.T) {
	doc := strings.Replace(minimal, "      argv: [bin/deploy, --now]",
		"      argv: [bin/deploy, --now]\n      env: {ZONE: eu-1, HOME: /var/lib/deploy, EMPTY: \"\"}", 1)
	c, err := Parse([]byte(doc), "/x")
	require.NoError(t, err)
	require.Equal(t, []string{"EMPTY=", "HOME=/var/lib/deploy", "ZONE=eu-1"}, c.Targets["demo"].Deployer.Environ(), "sorted, every run the same")
	require.Empty(t, parseMinimal(t, "/x").Targets["demo"].Deployer.Environ(), "none by default")
}

func TestParse_AnchorsAndMergeKeys(t *testing.T) {
	// YAML's own ways of sharing settings keep working: a second target reuses the first's probe.
	valid := strings.Replace(minimalTarget, "    probe:\n", "    probe: &probe\n", 1) + `  staging:
    base_url: http://127.0.0.1:8082
    secret_store: {kind: file, dir: secrets, name: staging-jwt-secret}
    env_sink: {kind: dotenv, path: staging.env}
    deployer: {kind: exec, argv: [bin/deploy]}
    admin: {token: {env: STAGING_ADMIN_TOKEN}}
    probe:
      <<: *probe
      admin_path: /admin
    claims: {issuer: staging}
    approvers: [carol]
` + minimalPeople
	c, err := Parse([]byte(valid), "/x")
	require.NoError(t, err)
	require.Equal(t, []string{"demo", "staging"}, c.TargetNames())
	st := c.Targets["staging"]
	require.Equal(t, "probe", st.Probe.Username)
	require.Equal(t, "AUTHOPS_TEST_PROBE_PASSWORD", st.Probe.Password.Env)
	require.Equal(t, "/admin", st.Probe.AdminPath)

	// A typo inside the anchored mapping is still caught, with its path.
	bad := strings.Replace(valid, "      username: probe\n", "      username: probe\n      pasword: {env: X}\n", 1)
	_, err = Parse([]byte(bad), "/x")
	require.ErrorContains(t, err, "targets.demo.probe.pasword: unknown key")
}

func TestParse_SelfReferencingAliases(t *testing.T) {
	// An alias inside the mapping it refers to must not send the field check into a loop.
	for doc, want := range map[string]string{
		"targets:\n  demo: &d\n    <<: *d\n":              "contains itself",
		"targets:\n  demo: &d\n    probe: *d\n":           "targets.demo.probe.probe: unknown key",
		"targets: &t\n  demo: *t\n":                       "targets.demo.demo: unknown key",
		"targets:\n  a: &a {probe: {<<: [*a, *a, *a]}}\n": "",
	} {
		_, err := Parse([]byte(doc), "/x")
		require.Error(t, err, doc)
		require.Contains(t, err.Error(), want, doc)
	}
}

func TestParse_BadConfigs(t *testing.T) {
	// Each case edits the minimal config (old must be in it) or replaces it (old == "").
	cases := []struct {
		name     string
		old, new string
		want     string // the error starts with the field's path and says what is wrong
	}{
		{"unknown top-level key", "targets:\n", "target:\n  demo: {}\ntargets:\n",
			"target: unknown key (known: targets, people, gateway, incident, timeouts, alerts"},
		{"unknown target key", "    approvers:", "    aprovers: [carol]\n    approvers:",
			"targets.demo.aprovers: unknown key"},
		{"unknown nested key", "      argv: [bin/deploy, --now]", "      argvv: [bin/deploy, --now]",
			"targets.demo.deployer.argvv: unknown key (known: kind, argv,"},
		{"unknown key in a reference", "token: {file: admin.token}", "token: {file: admin.token, value: s3cr3t-admin}",
			"targets.demo.admin.token.value: unknown key (known: env, file)"},
		{"unknown key in a critical endpoint", "    approvers:", "    critical_endpoints:\n      - {path: /healthz, expected_status: 200, expect: 200}\n    approvers:",
			"targets.demo.critical_endpoints[0].expect: unknown key"},
		{"no targets", "", "targets: {}\n", "targets: at least one target is required"},
		{"empty file", "", "", "targets: at least one target is required"},
		{"only a comment", "", "# nothing here\n", "targets: at least one target is required"},
		{"empty target", "", "targets:\n  demo:\n", "targets.demo: empty target"},
		{"bad target name", "  demo:\n", "  Demo_Prod:\n", "targets.Demo_Prod: name must be lower-case"},
		{"unknown deployer kind", "      kind: exec", "      kind: ssh", `targets.demo.deployer.kind: must be "exec" or "http", got "ssh"`},
		{"no deployer kind", "      kind: exec\n", "", `targets.demo.deployer.kind: must be "exec" or "http", got ""`},
		{"exec without argv", "      argv: [bin/deploy, --now]\n", "", "targets.demo.deployer.argv: is required for kind exec"},
		{"exec with empty argv", "      argv: [bin/deploy, --now]", "      argv: []", "targets.demo.deployer.argv: is required for kind exec"},
		{"http without url", "      kind: exec\n      argv: [bin/deploy, --now]", "      kind: http", "targets.demo.deployer.url: must be an http(s) URL"},
		{"deployer env: bad name", "      argv: [bin/deploy, --now]", "      argv: [bin/deploy, --now]\n      env: {\"BAD-NAME\": x}",
			`targets.demo.deployer.env: "BAD-NAME" is not an environment variable name`},
		{"deployer env: PATH", "      argv: [bin/deploy, --now]", "      argv: [bin/deploy, --now]\n      env: {PATH: /tmp/evil}",
			"targets.demo.deployer.env: PATH is the worker's own and cannot be set"},
		{"deployer env: NUL", "      argv: [bin/deploy, --now]", "      argv: [bin/deploy, --now]\n      env: {MODE: \"a\\0b\"}",
			"targets.demo.deployer.env: MODE: the value contains a NUL byte"},
		{"deployer env: not a mapping", "      argv: [bin/deploy, --now]", "      argv: [bin/deploy, --now]\n      env: [A=1]",
			"targets.demo.deployer.env: must be a mapping"},
		{"deployer env: for http", "      kind: exec\n      argv: [bin/deploy, --now]", "      kind: http\n      url: https://deploy.example/hook\n      env: {MODE: blue}",
			"targets.demo.deployer.env: is only for kind exec"},
		{"bad base_url: no scheme", "http://127.0.0.1:8081", "127.0.0.1:8081", `targets.demo.base_url: must be an http(s) URL, got "127.0.0.1:8081"`},
		{"bad base_url: ftp", "http://127.0.0.1:8081", "ftp://127.0.0.1", "targets.demo.base_url: must be an http(s) URL"},
		{"bad base_url: no host", "http://127.0.0.1:8081", "http://", "targets.demo.base_url: must be an http(s) URL"},
		{"missing base_url", "    base_url: http://127.0.0.1:8081\n", "", "targets.demo.base_url: must be an http(s) URL"},
		{"bad secret store kind", "kind: file,", "kind: s3,", `targets.demo.secret_store.kind: must be "file" or "vault", got "s3"`},
		{"secret store without dir", " dir: secrets,", "", "targets.demo.secret_store: dir and name are required"},
		{"bad env sink kind", "kind: dotenv", "kind: systemd", `targets.demo.env_sink.kind: must be "dotenv"`},
		{"env sink without path", ", path: backend.env", "", "targets.demo.env_sink.path: is required"},
		{"inline probe password", "password: {env: AUTHOPS_TEST_PROBE_PASSWORD}", "password: hunter2",
			"targets.demo.probe.password: must be a reference {env: NAME} or {file: PATH}; values are never inline"},
		{"inline quoted admin token", "token: {file: admin.token}", `token: "s3cr3t-admin-token"`,
			"targets.demo.admin.token: must be a reference"},
		{"inline password in a list", "password: {env: AUTHOPS_TEST_PROBE_PASSWORD}", "password: [hunter2]",
			"targets.demo.probe.password: must be a reference"},
		{"inline admin password", "      username: probe\n", "      username: probe\n      admin_username: probe-admin\n      admin_password: hunter2\n",
			"targets.demo.probe.admin_password: must be a reference"},
		{"ref with env and file", "password: {env: AUTHOPS_TEST_PROBE_PASSWORD}", "password: {env: AUTHOPS_TEST_PROBE_PASSWORD, file: probe.pw}",
			"targets.demo.probe.password: give env or file, not both"},
		{"empty ref", "token: {file: admin.token}", "token: {}", "targets.demo.admin.token: a reference {env: NAME} or {file: PATH} is required"},
		{"missing admin token", "    admin:\n      token: {file: admin.token}\n", "", "targets.demo.admin.token: a reference"},
		{"admin username without password", "      username: probe\n", "      username: probe\n      admin_username: probe-admin\n",
			"targets.demo.probe.admin_password: a reference"},
		{"missing probe username", "      username: probe\n", "", "targets.demo.probe.username: is required"},
		{"missing issuer", "      issuer: authbackend-demo\n", "      role: user\n", "targets.demo.claims.issuer: is required"},
		{"missing approvers", "    approvers: [alice, bob]\n", "", "targets.demo.approvers: at least one approver is required"},
		{"empty approvers", "[alice, bob]", "[]", "targets.demo.approvers: at least one approver is required"},
		{"bad duration", "    approvers:", "    rotation: {approval_timeout: 15 minutes}\n    approvers:",
			`targets.demo.rotation.approval_timeout: "15 minutes" is not a duration like 15m or 2h`},
		{"bare number duration", "      issuer: authbackend-demo", "      issuer: authbackend-demo\n      ttl: 900",
			`targets.demo.claims.ttl: "900" is not a duration`},
		{"negative duration", "    approvers:", "    rotation: {observation_window: -15m}\n    approvers:",
			`targets.demo.rotation.observation_window: "-15m" is negative`},
		{"duration as a list", "      argv: [bin/deploy, --now]", "      argv: [bin/deploy, --now]\n      timeout: [1m]",
			"targets.demo.deployer.timeout: \"\" is not a duration"},
		{"bad closed_window", "    approvers:", "    rotation: {closed_window: never}\n    approvers:",
			`targets.demo.rotation.closed_window: must be "end" or "next", got "never"`},
		{"critical endpoint without leading slash", "    approvers:", "    critical_endpoints:\n      - {path: healthz, expected_status: 200}\n    approvers:",
			"targets.demo.critical_endpoints[0].path: must start with /"},
		{"critical endpoint without status", "    approvers:", "    critical_endpoints:\n      - {path: /healthz, expected_status: 200}\n      - {path: /auth/me}\n    approvers:",
			"targets.demo.critical_endpoints[1].expected_status: must be an HTTP status"},
		{"critical endpoint with status 999", "    approvers:", "    critical_endpoints:\n      - {path: /auth/me, expected_status: 999}\n    approvers:",
			"targets.demo.critical_endpoints[0].expected_status: must be an HTTP status"},
		{"critical endpoint as root", "    approvers:", "    critical_endpoints:\n      - {path: /admin/users, as: root, expected_status: 200}\n    approvers:",
			`targets.demo.critical_endpoints[0].as: must be empty, "user" or "admin"`},
		{"critical endpoint as admin without admin probe", "    approvers:", "    critical_endpoints:\n      - {path: /admin/users, as: admin, expected_status: 200}\n    approvers:",
			`targets.demo.critical_endpoints[0].as: "admin" needs probe.admin_username`},
		{"allow_self_approval is gone", "    approvers:", "    allow_self_approval: true\n    approvers:",
			"targets.demo.allow_self_approval: unknown key"},
		{"approver not in people", "[alice, bob]", "[alice, mallory]",
			`targets.demo.approvers[1]: unknown person "mallory" (not in people)`},
		{"approver by another case", "[alice, bob]", "[Alice]", `targets.demo.approvers[0]: unknown person "Alice"`},
		{"approver twice", "[alice, bob]", "[alice, bob, alice]", `targets.demo.approvers[2]: "alice" is listed twice`},
		{"quorum zero", "    approvers:", "    quorum: {rotation: 0}\n    approvers:",
			"targets.demo.quorum.rotation: must be a whole number, at least 1"},
		{"quorum negative", "    approvers:", "    quorum: {emergency: -1}\n    approvers:",
			"targets.demo.quorum.emergency: must be a whole number, at least 1"},
		{"quorum not a number", "    approvers:", "    quorum: {rotation: two}\n    approvers:",
			"targets.demo.quorum.rotation: must be a whole number, at least 1"},
		{"quorum null", "    approvers:", "    quorum: {rotation: ~}\n    approvers:",
			"targets.demo.quorum.rotation: must be a whole number, at least 1"},
		{"quorum above approvers", "    approvers:", "    quorum: {emergency: 3}\n    approvers:",
			"targets.demo.quorum.emergency: must be between 1 and the number of approvers (2), got 3"},
		{"unknown quorum key", "    approvers:", "    quorum: {rotations: 1}\n    approvers:",
			"targets.demo.quorum.rotations: unknown key (known: rotation, emergency)"},
		{"negative approval_validity", "    approvers:", "    rotation: {approval_validity: -1h}\n    approvers:",
			`targets.demo.rotation.approval_validity: "-1h" is negative`},
		{"person name with capitals", "  alice: {", "  Alice: {",
			`people: name "Alice" must match ^[a-z][a-z0-9._-]{0,31}$: names are lower case, so that no two people differ only by case, spaces or look-alike letters`},
		{"person name with a space", "  alice: {", `  "alice smith": {`, `people: name "alice smith" must match`},
		{"person name with a look-alike letter", "  alice: {", "  аlice: {", "names are lower case"},
		{"person without keys", "  bob: {keys: [{file: keys/bob.pub}]}", "  bob: {keys: []}", "people.bob.keys: at least one key is required"},
		{"person without keys field", "  bob: {keys: [{file: keys/bob.pub}]}", "  bob: {slack_id: UBOB}", "people.bob.keys: at least one key is required"},
		{"empty person", "  bob: {keys: [{file: keys/bob.pub}]}", "  bob:", "people.bob.keys: at least one key is required"},
		{"unknown person key", "  bob: {keys:", "  bob: {email: b@x, keys:", "people.bob.email: unknown key (known: slack_id, keys)"},
		{"keys not a list", "{keys: [{file: keys/bob.pub}]}", "{keys: {file: keys/bob.pub}}", "people.bob.keys: must be a list"},
		{"key as a list", "[{file: keys/bob.pub}]", "[[keys/bob.pub]]",
			"people.bob.keys[0]: must be a public key (an authorized_keys line) or {file: PATH}"},
		{"unknown key-entry key", "{file: keys/bob.pub}", "{path: keys/bob.pub}", "people.bob.keys[0].path: unknown key (known: file)"},
		{"empty key entry", "{file: keys/bob.pub}", "{}", "people.bob.keys[0]: a public key (an authorized_keys line) or {file: PATH} is required"},
		{"null key entry", "[{file: keys/bob.pub}]", "[~]", "people.bob.keys[0]: a public key"},
		{"inline key that does not parse", "[{file: keys/bob.pub}]", `["ssh-ed25519 s3cr3t-not-base64 bob@laptop"]`,
			"people.bob.keys[0]: not a public key in authorized_keys form"},
		{"inline private key", "[{file: keys/bob.pub}]", `["-----BEGIN OPENSSH PRIVATE KEY-----\nhunter2\n-----END OPENSSH PRIVATE KEY-----"]`,
			"people.bob.keys[0]: is a private key; give the public key"},
		{"bad slack id", "  bob: {keys:", "  bob: {slack_id: ubob, keys:", "people.bob.slack_id: must be a Slack user id"},
		{"duplicate slack id", "  alice: {keys: [{file: keys/alice.pub}]}\n  bob: {keys:",
			"  alice: {slack_id: UBOB, keys: [{file: keys/alice.pub}]}\n  bob: {slack_id: UBOB, keys:",
			"people.bob.slack_id: UBOB is already alice's"},
		{"people as a list", "people:\n", "people:\n  - dave\npeeps:\n", "people: must be a mapping"},
		{"empty gateway keys", "people:\n", "gateway: {keys: []}\npeople:\n", "gateway.keys: at least one key is required"},
		{"bad gateway key", "people:\n", "gateway: {keys: [not-a-key]}\npeople:\n", "gateway.keys[0]: not a public key in authorized_keys form"},
		{"unknown gateway key", "people:\n", "gateway: {keys: [{file: g.pub}], url: x}\npeople:\n", "gateway.url: unknown key (known: keys)"},
		{"not YAML", "", "targets: [unclosed\n", "yaml:"},
		{"duplicate key", "    approvers: [alice, bob]\n", "    approvers: [alice, bob]\n    approvers: [carol]\n", "targets.demo.approvers: defined twice (lines 16 and 17)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.new
			if tc.old != "" {
				require.Contains(t, minimal, tc.old, "the case edits the minimal config")
				doc = strings.Replace(minimal, tc.old, tc.new, 1)
			}
			c, err := Parse([]byte(doc), t.TempDir())
			require.Error(t, err)
			require.Nil(t, c)
			require.Contains(t, err.Error(), tc.want)
			require.NotContains(t, err.Error(), "\n", "one error, on one line")
			for _, secret := range []string{"hunter2", "s3cr3t"} {
				require.NotContains(t, err.Error(), secret, "an inline value is never echoed")
			}
		})
	}
}

func TestParse_ErrorIsDeterministic(t *testing.T) {
	// The first problem in the file is reported, the same one every time.
	doc := strings.Replace(minimal, "      argv: [bin/deploy, --now]", "      argvv: [x]\n      dir: [y]", 1)
	doc = strings.Replace(doc, "password: {env: AUTHOPS_TEST_PROBE_PASSWORD}", "password: hunter2", 1)
	for range 20 {
		_, err := Parse([]byte(doc), "/x")
		require.EqualError(t, err, "targets.demo.deployer.argvv: unknown key (known: kind, argv, dry_run_argv, dir, method, url, headers_from_env, timeout, readiness_timeout, env)")
	}
}

func TestTarget_Unknown(t *testing.T) {
	c := parseMinimal(t, "/x")
	_, err := c.Target("prod")
	require.EqualError(t, err, `unknown target "prod" (known: demo)`)

	doc := minimalTarget + strings.ReplaceAll(strings.TrimPrefix(minimalTarget, "targets:\n"), "  demo:", "  alpha:") + minimalPeople
	c, err = Parse([]byte(doc), "/x")
	require.NoError(t, err)
	_, err = c.Target("")
	require.EqualError(t, err, `unknown target "" (known: alpha, demo)`)
	tg, err := c.Target("alpha")
	require.NoError(t, err)
	require.Equal(t, "alpha", tg.Name)
}

func TestPath(t *testing.T) {
	t.Setenv(EnvVar, "")
	require.Equal(t, DefaultPath, Path(""))
	t.Setenv(EnvVar, "/etc/authops/runbook.yaml")
	require.Equal(t, "/etc/authops/runbook.yaml", Path(""))
	require.Equal(t, "mine.yaml", Path("mine.yaml"), "the flag wins")
}

// unsetEnv makes sure name is unset for this test and restored after it.
func unsetEnv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "")
	require.NoError(t, os.Unsetenv(name))
}

func TestResolve_Env(t *testing.T) {
	c := parseMinimal(t, t.TempDir())
	ref := Ref{Env: "AUTHOPS_TEST_PROBE_PASSWORD"}
	const field = "targets.demo.probe.password"

	unsetEnv(t, ref.Env)
	_, err := c.Resolve(field, ref)
	require.EqualError(t, err, "targets.demo.probe.password: env var AUTHOPS_TEST_PROBE_PASSWORD is not set")

	t.Setenv(ref.Env, "")
	_, err = c.Resolve(field, ref)
	require.ErrorContains(t, err, field)
	require.ErrorContains(t, err, ref.Env)

	t.Setenv(ref.Env, "correct horse battery staple")
	v, err := c.Resolve(field, ref)
	require.NoError(t, err)
	require.Equal(t, "correct horse battery staple", v)

	_, err = c.Resolve(field, Ref{})
	require.EqualError(t, err, "targets.demo.probe.password: no env or file reference")
}

func TestResolve_File(t *testing.T) {
	dir := t.TempDir()
	c := parseMinimal(t, dir)
	const field = "targets.demo.admin.token"

	// Relative paths resolve against the config's directory, whatever the working directory.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "var"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "var", "admin.token"), []byte("  adm1n-t0ken\n"), 0o600))
	v, err := c.Resolve(field, Ref{File: "var/admin.token"})
	require.NoError(t, err)
	require.Equal(t, "adm1n-t0ken", v, "surrounding blanks and the newline are trimmed")
	_, err = os.Stat("var/admin.token")
	require.ErrorIs(t, err, os.ErrNotExist, "not read relative to the working directory")

	// Absolute paths are used as they are.
	abs := filepath.Join(t.TempDir(), "abs.token")
	require.NoError(t, os.WriteFile(abs, []byte("abs-t0ken"), 0o600))
	v, err = c.Resolve(field, Ref{File: abs})
	require.NoError(t, err)
	require.Equal(t, "abs-t0ken", v)
	require.Equal(t, abs, c.Abs(abs))
	require.Equal(t, filepath.Join(dir, "x", "y"), c.Abs("x/y"))
	require.Equal(t, "", c.Abs(""))

	_, err = c.Resolve(field, Ref{File: "var/missing.token"})
	require.ErrorContains(t, err, field)
	require.ErrorContains(t, err, filepath.Join(dir, "var", "missing.token"))
	require.ErrorIs(t, err, os.ErrNotExist)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty.token"), []byte(" \n\t\n"), 0o600))
	_, err = c.Resolve(field, Ref{File: "empty.token"})
	require.EqualError(t, err, "targets.demo.admin.token: file empty.token is empty")
}

func TestLoad_RelativePathsAgainstConfigDir(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "conf", "runbook.yaml")
	require.NoError(t, os.MkdirAll(filepath.Dir(cfgPath), 0o700))
	require.NoError(t, os.WriteFile(cfgPath, []byte(minimal), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "conf", "admin.token"), []byte("t0ken\n"), 0o600))

	c, err := Load(cfgPath)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "conf"), c.Dir)
	v, err := c.Resolve("targets.demo.admin.token", c.Targets["demo"].Admin.Token)
	require.NoError(t, err)
	require.Equal(t, "t0ken", v)
}

func TestCheckRefs(t *testing.T) {
	dir := t.TempDir()
	doc := strings.NewReplacer(
		"      username: probe\n", "      username: probe\n      admin_username: probe-admin\n      admin_password: {file: passwords/probe-admin}\n",
		"      argv: [bin/deploy, --now]\n", "      argv: [bin/deploy, --now]\n      headers_from_env: {X-Deploy-Token: AUTHOPS_TEST_DEPLOY_TOKEN}\n",
	).Replace(minimal)
	c, err := Parse([]byte(doc), dir)
	require.NoError(t, err)
	tg := c.Targets["demo"]
	unsetEnv(t, "AUTHOPS_TEST_PROBE_PASSWORD")
	unsetEnv(t, "AUTHOPS_TEST_DEPLOY_TOKEN")

	// The first unresolvable reference is reported by its field, in order.
	err = c.CheckRefs(tg)
	require.ErrorContains(t, err, "targets.demo.admin.token: ")
	require.ErrorContains(t, err, "admin.token")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "admin.token"), []byte("t0ken\n"), 0o600))

	err = c.CheckRefs(tg)
	require.EqualError(t, err, "targets.demo.probe.password: env var AUTHOPS_TEST_PROBE_PASSWORD is not set")
	t.Setenv("AUTHOPS_TEST_PROBE_PASSWORD", "pw")

	err = c.CheckRefs(tg)
	require.ErrorContains(t, err, "targets.demo.probe.admin_password: ")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "passwords"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "passwords", "probe-admin"), nil, 0o600))
	err = c.CheckRefs(tg)
	require.EqualError(t, err, "targets.demo.probe.admin_password: file passwords/probe-admin is empty")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "passwords", "probe-admin"), []byte("admin-pw"), 0o600))

	err = c.CheckRefs(tg)
	require.EqualError(t, err, "targets.demo.deployer.headers_from_env.X-Deploy-Token: env var AUTHOPS_TEST_DEPLOY_TOKEN is not set")
	t.Setenv("AUTHOPS_TEST_DEPLOY_TOKEN", "deploy")

	require.NoError(t, c.CheckRefs(tg))

	// Errors never hold the values they resolved.
	t.Setenv("AUTHOPS_TEST_DEPLOY_TOKEN", "")
	err = c.CheckRefs(tg)
	require.Error(t, err)
	for _, v := range []string{"t0ken", "admin-pw"} {
		require.NotContains(t, err.Error(), v)
	}
}

func TestTimeouts(t *testing.T) {
	c, err := Parse([]byte(minimal+"timeouts: {activity: 5s, heartbeat: 3s}\n"), "/x")
	if err != nil {
		t.Fatal(err)
	}
	got := c.Timeouts.Contract()
	if got.Activity != 5*time.Second || got.Heartbeat != 3*time.Second || got.Check != 0 {
		t.Fatalf("timeouts: %+v", got)
	}
	for doc, want := range map[string]string{
		"timeouts: {activity: soon}\n": `timeouts.activity: "soon" is not a duration`,
		"timeouts: {heartbeat: -1s}\n": `timeouts.heartbeat: "-1s" is negative`,
		"timeouts: {heartbeats: 1s}\n": "timeouts.heartbeats: unknown key",
	} {
		if _, err := Parse([]byte(minimal+doc), "/x"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", doc, err, want)
		}
	}
}

// The peer key's path is resolved against the config's directory, with a default.
func TestPeerKeyPath(t *testing.T) {
	c := &Config{Dir: "/etc/authops"}
	require.Equal(t, "/etc/authops/var/peer.key", c.PeerKeyPath())
	c.PeerKeyFile = "keys/peer.key"
	require.Equal(t, "/etc/authops/keys/peer.key", c.PeerKeyPath())
	c.PeerKeyFile = "/run/secrets/peer.key"
	require.Equal(t, "/run/secrets/peer.key", c.PeerKeyPath())
}
