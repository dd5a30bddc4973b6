package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authops/authops/contract"
)

// Config is the whole file.
type Config struct {
	Targets map[string]*Target `yaml:"targets"`
	// PeopleByName are the people who may request and decide runs, by canonical name. Use
	// Person and People to read them.
	PeopleByName map[string]*Person `yaml:"people"`
	// Gateway holds the Slack gateway's signing keys; nil when there is no gateway.
	Gateway *Gateway `yaml:"gateway"`
	// Incident tunes runbook 1; every key has a default.
	Incident IncidentConfig `yaml:"incident"`
	// Timeouts bound the runbooks' activities; every key has a default.
	Timeouts Timeouts `yaml:"timeouts"`
	// Alerts tunes the gateway's Alertmanager webhook; every key has a default.
	Alerts AlertsConfig `yaml:"alerts"`
	// PeerKeyFile holds the key with which workers seal the messages runs send each other
	// (internal/peer); created when missing. Every worker of the namespace needs the same file.
	// Use PeerKeyPath to read it.
	PeerKeyFile string `yaml:"peer_key_file"`
	// Dir is the directory of the config file; relative paths in it are resolved against Dir.
	Dir string `yaml:"-"`
}

// Target is one backend that the runbooks act on.
type Target struct {
	Name              string             `yaml:"-"`
	BaseURL           string             `yaml:"base_url"`
	Channel           string             `yaml:"channel"`
	SecretStore       SecretStore        `yaml:"secret_store"`
	EnvSink           EnvSink            `yaml:"env_sink"`
	Deployer          Deployer           `yaml:"deployer"`
	Admin             Admin              `yaml:"admin"`
	Probe             Probe              `yaml:"probe"`
	Claims            Claims             `yaml:"claims"`
	Approvers         []string           `yaml:"approvers"`
	Quorum            Quorum             `yaml:"quorum"`
	Rotation          RotationPolicy     `yaml:"rotation"`
	Emergency         EmergencyPolicy    `yaml:"emergency"`
	CriticalEndpoints []CriticalEndpoint `yaml:"critical_endpoints"`
	// Freeze is what a rotation does on a target an incident froze: "refuse" (default) or "wait".
	Freeze string `yaml:"freeze"`
	// Notify says where user-facing notices go (slack.go).
	Notify Notify `yaml:"notify"`
	// Controls are the places traffic is cut besides the control API: an nginx edge (edge.go).
	Controls Controls `yaml:"controls"`
}

// SecretStore says where versions of the JWT secret live: a file store (dir, name) or a Vault KV
// v2 secret (address, mount, path, auth).
type SecretStore struct {
	Kind string `yaml:"kind"` // file | vault
	// Dir holds the file store; for kind vault it is optional and holds only the worker's local
	// state (canary sessions), not the secret.
	Dir  string `yaml:"dir"`
	Name string `yaml:"name"`
	// Address, Mount and Path name the Vault KV v2 secret (kind vault).
	Address string    `yaml:"address"`
	Mount   string    `yaml:"mount"`
	Path    string    `yaml:"path"`
	Auth    VaultAuth `yaml:"auth"`
}

// VaultAuth is how the worker logs in to Vault: exactly one of a token (a reference, {file: PATH}
// or {env: NAME}) or an AppRole.
type VaultAuth struct {
	Token   *Ref          `yaml:"token"`
	AppRole *VaultAppRole `yaml:"approle"`
}

// VaultAppRole is an AppRole login; the secret id is a reference, never inline.
type VaultAppRole struct {
	RoleID   string `yaml:"role_id"`
	SecretID Ref    `yaml:"secret_id"`
}

// EnvSink says where the backend reads its secret from.
type EnvSink struct {
	Kind string `yaml:"kind"` // dotenv
	Path string `yaml:"path"`
	Key  string `yaml:"key"`
}

// Deployer says how to restart the backend so that it loads the new secret.
type Deployer struct {
	Kind             string            `yaml:"kind"` // exec | http
	Argv             []string          `yaml:"argv"`
	DryRunArgv       []string          `yaml:"dry_run_argv"`
	Dir              string            `yaml:"dir"`
	Method           string            `yaml:"method"`
	URL              string            `yaml:"url"`
	HeadersFromEnv   map[string]string `yaml:"headers_from_env"`
	Timeout          Duration          `yaml:"timeout"`
	ReadinessTimeout Duration          `yaml:"readiness_timeout"`
	// Env (kind exec) is the deploy command's environment, with the worker's PATH. Nothing else
	// of the worker's environment reaches the command, so that the worker's credentials and those
	// of other targets stay out of it. Values are plain text, never secrets.
	Env map[string]string `yaml:"env"`
}

// Environ returns Env as KEY=VALUE entries, sorted by key so that every run passes the same.
func (d Deployer) Environ() []string {
	env := make([]string, 0, len(d.Env))
	for _, k := range sortedKeys(d.Env) {
		env = append(env, k+"="+d.Env[k])
	}
	return env
}

// Admin is the backend's control API (logout policy, route and CIDR restrictions, log level).
type Admin struct {
	Token Ref `yaml:"token"`
}

// Probe holds the credentials of the account used to check the login flow.
type Probe struct {
	// Timeout bounds each probe request (default 5s): a loaded backend may need more.
	Timeout       Duration `yaml:"timeout"`
	Username      string   `yaml:"username"`
	Password      Ref      `yaml:"password"`
	AdminPath     string   `yaml:"admin_path"`
	AdminUsername string   `yaml:"admin_username"`
	AdminPassword Ref      `yaml:"admin_password"`
	// Endpoints, for a backend not shaped like the demo one.
	Endpoints ProbeEndpoints `yaml:"endpoints"`
}

// Claims is the shape of the tokens the backend issues, for minting verification tokens.
type Claims struct {
	Issuer string   `yaml:"issuer"`
	Role   string   `yaml:"role"`
	TTL    Duration `yaml:"ttl"`
}

// RotationPolicy tunes runbook 2.
type RotationPolicy struct {
	ApprovalTimeout   Duration `yaml:"approval_timeout"`
	ReminderInterval  Duration `yaml:"reminder_interval"`
	ObservationWindow Duration `yaml:"observation_window"`
	// ClosedWindow says what a rotation does when it is approved after its window closed:
	// "end" ends the run unchanged, "next" waits for the same window on the next day.
	ClosedWindow string `yaml:"closed_window"`
	// ApprovalValidity is how long an approval given before the window opens stays valid.
	ApprovalValidity Duration `yaml:"approval_validity"`
	// MaxWindowAhead bounds how far ahead a window may start, so a run cannot hold the target's
	// rotation id for centuries.
	MaxWindowAhead Duration `yaml:"max_window_ahead"`
}

// Quorum is how many distinct approvers, other than the requester, a run needs.
type Quorum struct {
	Rotation  int `yaml:"rotation"`
	Emergency int `yaml:"emergency"`
}

// Person is someone named in approvers, who signs statements with one of Keys.
type Person struct {
	Name    string `yaml:"-"`
	SlackID string `yaml:"slack_id"`
	Keys    []Key  `yaml:"keys"`
}

// Gateway is the Slack gateway, which signs on behalf of the people who click in Slack.
type Gateway struct {
	Keys []Key `yaml:"keys"`
}

// Key is one public key: an authorized_keys line written inline (a public key is no secret) or
// a {file: PATH} holding one. A file is read only when resolved, so that it may be created after
// the config is written (the demo keys are).
type Key struct {
	Inline string `yaml:"-"`
	File   string `yaml:"file"`
}

// UnmarshalYAML accepts a scalar (an inline key) or a mapping {file: PATH}.
func (k *Key) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*k = Key{Inline: s}
		return nil
	}
	var f struct {
		File string `yaml:"file"`
	}
	if err := n.Decode(&f); err != nil {
		return err
	}
	*k = Key{File: f.File}
	return nil
}

// EmergencyPolicy tunes runbook 3.
type EmergencyPolicy struct {
	ApprovalTimeout Duration `yaml:"approval_timeout"`
}

// CriticalEndpoint is a route whose auth status is checked after an emergency change.
type CriticalEndpoint struct {
	Method         string `yaml:"method"`
	Path           string `yaml:"path"`
	As             string `yaml:"as"` // "" (no token), "user" or "admin"
	ExpectedStatus int    `yaml:"expected_status"`
}

// Ref points at a secret without holding it.
type Ref struct {
	Env  string `yaml:"env"`
	File string `yaml:"file"`
}

// Timeouts bound activities. A short one notices a dead worker sooner; the fault suite sets
// them to seconds.
type Timeouts struct {
	// Activity is the start-to-close timeout of quick activities: the store, the controls,
	// announcements (default 30s).
	Activity Duration `yaml:"activity"`
	// Check is that of probes and pre-checks (default 2m).
	Check Duration `yaml:"check"`
	// Heartbeat is the heartbeat timeout of the activities that heartbeat: redeploy, validation,
	// cutover and incident verification (default 15s).
	Heartbeat Duration `yaml:"heartbeat"`
}

// Contract returns the timeouts as the workflows take them; zero means the default.
func (t Timeouts) Contract() contract.Timeouts {
	return contract.Timeouts{Activity: t.Activity.D(), Check: t.Check.D(), Heartbeat: t.Heartbeat.D()}
}

// Duration is a time.Duration written as "15m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses Go duration syntax.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 15m or 2h", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
