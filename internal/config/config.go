// Package config loads runbook.yaml: the targets the runbooks act on and their policies.
//
// The file holds no secret. Credentials are references (an env var or a file) that only the worker
// resolves, inside activities, so the starter can validate input without ever reading a secret.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authops/authops/contract"
)

// EnvVar names the variable that overrides the default config path.
const EnvVar = "AUTHOPS_CONFIG"

// DefaultPath is used when neither --config nor AUTHOPS_CONFIG is given.
const DefaultPath = "runbook.yaml"

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
}

// SecretStore says where versions of the JWT secret live.
type SecretStore struct {
	Kind string `yaml:"kind"` // file
	Dir  string `yaml:"dir"`
	Name string `yaml:"name"`
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
	keys := make([]string, 0, len(d.Env))
	for k := range d.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	env := make([]string, 0, len(keys))
	for _, k := range keys {
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

// Path returns the config path to use: flag, then AUTHOPS_CONFIG, then DefaultPath.
func Path(flag string) string {
	if flag != "" {
		return flag
	}
	if v := os.Getenv(EnvVar); v != "" {
		return v
	}
	return DefaultPath
}

// Load reads, defaults and validates a config file. It does not resolve secret references.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("config file %s not found: pass --config or set %s", path, EnvVar)
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config path: %w", err)
	}
	c, err := Parse(b, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a config. Unknown keys are errors, so a typo never silently disables a control.
func Parse(b []byte, dir string) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if err := (&schemaCheck{budget: 1 << 16}).node("", &doc, reflect.TypeOf(Config{})); err != nil {
		return nil, err
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	c.Dir = dir
	if len(c.Targets) == 0 {
		return nil, errors.New("targets: at least one target is required")
	}
	if err := c.validatePeople(); err != nil {
		return nil, err
	}
	if c.Gateway != nil {
		if len(c.Gateway.Keys) == 0 {
			return nil, errors.New("gateway.keys: at least one key is required")
		}
		for i, k := range c.Gateway.Keys {
			if err := checkKey(fmt.Sprintf("gateway.keys[%d]", i), k); err != nil {
				return nil, err
			}
		}
	}
	// Sorted, so that the same file always reports the same first error.
	for _, name := range c.TargetNames() {
		t := c.Targets[name]
		if t == nil {
			return nil, fmt.Errorf("targets.%s: empty target", name)
		}
		t.Name = name
		t.defaults()
		if err := t.validate(c.PeopleByName); err != nil {
			return nil, err
		}
	}
	c.Incident.defaults()
	if err := c.Incident.validate(c.PeopleByName, c.Approvers()); err != nil {
		return nil, err
	}
	if err := c.validateIncidentChannel(); err != nil {
		return nil, err
	}
	c.Alerts.defaults()
	if err := c.Alerts.validate(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Target returns the named target or an error listing the known ones.
func (c *Config) Target(name string) (*Target, error) {
	if t, ok := c.Targets[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("unknown target %q (known: %s)", name, strings.Join(c.TargetNames(), ", "))
}

// TargetNames lists targets in order.
func (c *Config) TargetNames() []string {
	names := make([]string, 0, len(c.Targets))
	for n := range c.Targets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Abs resolves a path from the config against the config's directory.
func (c *Config) Abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// Resolve reads the value a reference points at. field names the reference in errors.
func (c *Config) Resolve(field string, r Ref) (string, error) {
	switch {
	case r.Env != "":
		v, ok := os.LookupEnv(r.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("%s: env var %s is not set", field, r.Env)
		}
		return v, nil
	case r.File != "":
		b, err := os.ReadFile(c.Abs(r.File))
		if err != nil {
			return "", fmt.Errorf("%s: %w", field, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s: file %s is empty", field, r.File)
		}
		return v, nil
	default:
		return "", fmt.Errorf("%s: no env or file reference", field)
	}
}

// CheckRefs resolves every reference of a target and reports the first that fails, by field name.
func (c *Config) CheckRefs(t *Target) error {
	refs := []struct {
		field string
		ref   Ref
	}{
		{"admin.token", t.Admin.Token},
		{"probe.password", t.Probe.Password},
	}
	if t.Probe.AdminUsername != "" {
		refs = append(refs, struct {
			field string
			ref   Ref
		}{"probe.admin_password", t.Probe.AdminPassword})
	}
	for _, r := range refs {
		if _, err := c.Resolve("targets."+t.Name+"."+r.field, r.ref); err != nil {
			return err
		}
	}
	for h, env := range t.Deployer.HeadersFromEnv {
		if os.Getenv(env) == "" {
			return fmt.Errorf("targets.%s.deployer.headers_from_env.%s: env var %s is not set", t.Name, h, env)
		}
	}
	return nil
}

func (t *Target) defaults() {
	setDur := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	setDur(&t.Deployer.Timeout, 60*time.Second)
	setDur(&t.Deployer.ReadinessTimeout, 30*time.Second)
	setDur(&t.Claims.TTL, 15*time.Minute)
	setDur(&t.Rotation.ApprovalTimeout, time.Hour)
	setDur(&t.Rotation.ReminderInterval, 15*time.Minute)
	setDur(&t.Rotation.ObservationWindow, 15*time.Minute)
	setDur(&t.Rotation.ApprovalValidity, 24*time.Hour)
	setDur(&t.Rotation.MaxWindowAhead, 30*24*time.Hour)
	setDur(&t.Emergency.ApprovalTimeout, 5*time.Minute)
	// An explicit 0 never gets here: schemaCheck rejects it, so 0 means "not given".
	if t.Quorum.Rotation == 0 {
		t.Quorum.Rotation = 1
	}
	if t.Quorum.Emergency == 0 {
		t.Quorum.Emergency = 1
	}
	if t.Rotation.ClosedWindow == "" {
		t.Rotation.ClosedWindow = "end"
	}
	if t.EnvSink.Key == "" {
		t.EnvSink.Key = "JWT_SECRET"
	}
	if t.Probe.AdminPath == "" {
		t.Probe.AdminPath = "/admin/users"
	}
	if t.Claims.Role == "" {
		t.Claims.Role = "user"
	}
	if t.Deployer.Method == "" {
		t.Deployer.Method = http.MethodPost
	}
	t.freezeDefaults()
	for i := range t.CriticalEndpoints {
		if t.CriticalEndpoints[i].Method == "" {
			t.CriticalEndpoints[i].Method = http.MethodGet
		}
	}
}

var targetName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// validate checks a target after defaults; people are the config's, by name.
func (t *Target) validate(people map[string]*Person) error {
	f := func(field, format string, a ...any) error {
		return fmt.Errorf("targets.%s.%s: %s", t.Name, field, fmt.Sprintf(format, a...))
	}
	if !targetName.MatchString(t.Name) {
		return fmt.Errorf("targets.%s: name must be lower-case letters, digits and dashes", t.Name)
	}
	if u, err := url.Parse(t.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return f("base_url", "must be an http(s) URL, got %q", t.BaseURL)
	}
	if t.SecretStore.Kind != "file" {
		return f("secret_store.kind", "must be \"file\", got %q", t.SecretStore.Kind)
	}
	if t.SecretStore.Dir == "" || t.SecretStore.Name == "" {
		return f("secret_store", "dir and name are required")
	}
	if t.EnvSink.Kind != "dotenv" {
		return f("env_sink.kind", "must be \"dotenv\", got %q", t.EnvSink.Kind)
	}
	if t.EnvSink.Path == "" {
		return f("env_sink.path", "is required")
	}
	switch t.Deployer.Kind {
	case "exec":
		if len(t.Deployer.Argv) == 0 {
			return f("deployer.argv", "is required for kind exec")
		}
	case "http":
		if u, err := url.Parse(t.Deployer.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return f("deployer.url", "must be an http(s) URL for kind http")
		}
	default:
		return f("deployer.kind", "must be \"exec\" or \"http\", got %q", t.Deployer.Kind)
	}
	if err := t.Deployer.validateEnv(); err != nil {
		return f("deployer.env", "%v", err)
	}
	if err := checkRef(t.Admin.Token); err != nil {
		return f("admin.token", "%v", err)
	}
	if t.Probe.Username == "" {
		return f("probe.username", "is required")
	}
	if err := checkRef(t.Probe.Password); err != nil {
		return f("probe.password", "%v", err)
	}
	if t.Probe.AdminUsername != "" {
		if err := checkRef(t.Probe.AdminPassword); err != nil {
			return f("probe.admin_password", "%v", err)
		}
	}
	if t.Claims.Issuer == "" {
		return f("claims.issuer", "is required")
	}
	if len(t.Approvers) == 0 {
		return f("approvers", "at least one approver is required")
	}
	for i, a := range t.Approvers {
		if _, ok := people[a]; !ok {
			return f(fmt.Sprintf("approvers[%d]", i), "unknown person %q (not in people)", a)
		}
		// A name listed twice would count twice toward a quorum.
		if slices.Index(t.Approvers, a) != i {
			return f(fmt.Sprintf("approvers[%d]", i), "%q is listed twice", a)
		}
	}
	for _, q := range []struct {
		field string
		n     int
	}{{"quorum.rotation", t.Quorum.Rotation}, {"quorum.emergency", t.Quorum.Emergency}} {
		if q.n < 1 || q.n > len(t.Approvers) {
			return f(q.field, "must be between 1 and the number of approvers (%d), got %d", len(t.Approvers), q.n)
		}
	}
	if t.Rotation.ClosedWindow != "end" && t.Rotation.ClosedWindow != "next" {
		return f("rotation.closed_window", "must be \"end\" or \"next\", got %q", t.Rotation.ClosedWindow)
	}
	if err := t.validateFreeze(); err != nil {
		return err
	}
	if err := t.validateNotify(); err != nil {
		return err
	}
	for i, e := range t.CriticalEndpoints {
		if !strings.HasPrefix(e.Path, "/") {
			return f(fmt.Sprintf("critical_endpoints[%d].path", i), "must start with /")
		}
		if e.ExpectedStatus < 100 || e.ExpectedStatus > 599 {
			return f(fmt.Sprintf("critical_endpoints[%d].expected_status", i), "must be an HTTP status")
		}
		if e.As != "" && e.As != "user" && e.As != "admin" {
			return f(fmt.Sprintf("critical_endpoints[%d].as", i), "must be empty, \"user\" or \"admin\"")
		}
		if e.As == "admin" && t.Probe.AdminUsername == "" {
			return f(fmt.Sprintf("critical_endpoints[%d].as", i), "\"admin\" needs probe.admin_username")
		}
	}
	return nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validateEnv checks deployer.env. Errors name the variable, never its value.
func (d Deployer) validateEnv() error {
	if len(d.Env) > 0 && d.Kind != "exec" {
		return fmt.Errorf("is only for kind exec (a webhook takes headers_from_env)")
	}
	for _, k := range slices.Sorted(maps.Keys(d.Env)) {
		switch {
		case !envName.MatchString(k):
			return fmt.Errorf("%q is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)", k)
		case k == "PATH":
			// The executable is looked up in the worker's PATH; another one for the command
			// would make the dry run and the deploy disagree.
			return errors.New("PATH is the worker's own and cannot be set; give argv an absolute path instead")
		case strings.ContainsRune(d.Env[k], 0):
			return fmt.Errorf("%s: the value contains a NUL byte", k)
		}
	}
	return nil
}

func checkRef(r Ref) error {
	switch {
	case r.Env != "" && r.File != "":
		return errors.New("give env or file, not both")
	case r.Env == "" && r.File == "":
		return errors.New("a reference {env: NAME} or {file: PATH} is required; values are never inline")
	}
	return nil
}

// schemaCheck walks the parsed document against the schema before it is decoded, so that an
// unknown key, an inline value where a reference belongs or a bad duration is reported by its
// path (targets.demo.deployer.argvv) rather than by line and Go type, and so that the error never
// quotes the value: an inline "reference" is probably a pasted secret. What it does not check is
// left to the decoder, and so is a document whose aliases would make the walk too long.
// An alias can refer to a mapping that contains it, so the walk is bounded in depth and length.
type schemaCheck struct{ budget, depth int }

func (c *schemaCheck) node(path string, n *yaml.Node, t reflect.Type) error {
	for ; n != nil && n.Kind == yaml.AliasNode; n = n.Alias {
		if c.budget--; c.budget < 0 {
			return nil
		}
	}
	if c.budget--; n == nil || c.budget < 0 || c.depth >= maxSchemaDepth {
		return nil
	}
	c.depth++
	defer func() { c.depth-- }()
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return c.node(path, n.Content[0], t)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		if t == reflect.TypeOf(Key{}) { // the decoder would drop it from the list silently
			return fmt.Errorf("%s: a public key (an authorized_keys line) or {file: PATH} is required", path)
		}
		return nil
	}
	sub := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch t {
	case reflect.TypeOf(Key{}):
		switch n.Kind {
		case yaml.ScalarNode:
			return nil // checked at load, by parsing
		case yaml.MappingNode: // only file is known: left to the struct walk below
		default:
			return fmt.Errorf("%s: must be a public key (an authorized_keys line) or {file: PATH}", path)
		}
	case reflect.TypeOf(Quorum{}):
		// Checked here because after decoding an explicit 0 looks like "not given".
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if _, ok := yamlField(t, k.Value); !ok {
					continue // reported by the struct walk below
				}
				var q int
				if v.Kind != yaml.ScalarNode || v.Decode(&q) != nil || q < 1 {
					return fmt.Errorf("%s: must be a whole number, at least 1", sub(k.Value))
				}
			}
		}
	case reflect.TypeOf(Ref{}):
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: must be a reference {env: NAME} or {file: PATH}; values are never inline", path)
		}
	case reflect.TypeOf(false):
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			return fmt.Errorf("%s: must be true or false, got %q", path, n.Value)
		}
		return nil
	case reflect.TypeOf(Duration(0)):
		d, err := time.ParseDuration(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			return fmt.Errorf("%s: %q is not a duration like 15m or 2h", path, n.Value)
		}
		if d < 0 {
			return fmt.Errorf("%s: %q is negative", path, n.Value)
		}
		return nil
	}
	if n.Kind == yaml.MappingNode {
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if line, dup := seen[k.Value]; dup && k.Tag != "!!merge" {
				return fmt.Errorf("%s: defined twice (lines %d and %d)", sub(k.Value), line, k.Line)
			}
			seen[k.Value] = k.Line
		}
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" { // <<: *base or <<: [*a, *b]
				for v.Kind == yaml.AliasNode && v.Alias != nil {
					v = v.Alias
				}
				items := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					items = v.Content
				}
				for _, item := range items {
					if err := c.node(path, item, t); err != nil {
						return err
					}
				}
				continue
			}
			f, ok := yamlField(t, k.Value)
			if !ok {
				return fmt.Errorf("%s: unknown key (known: %s)", sub(k.Value), strings.Join(yamlFields(t), ", "))
			}
			if err := c.node(sub(k.Value), v, f.Type); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := c.node(sub(n.Content[i].Value), n.Content[i+1], t.Elem()); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			if err := c.node(fmt.Sprintf("%s[%d]", path, i), item, t.Elem()); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice && (n.Kind == yaml.ScalarNode || n.Kind == yaml.MappingNode):
		return fmt.Errorf("%s: must be a list", path)
	case (t.Kind() == reflect.Struct || t.Kind() == reflect.Map) && (n.Kind == yaml.ScalarNode || n.Kind == yaml.SequenceNode):
		if path == "" {
			return errors.New("the config must be a mapping of sections (targets, people, gateway, incident)")
		}
		return fmt.Errorf("%s: must be a mapping", path)
	}
	return nil
}

// maxSchemaDepth is far deeper than the schema; only a self-referencing alias reaches it.
const maxSchemaDepth = 64

// yamlField finds the struct field that a YAML key decodes into.
func yamlField(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key && name != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// yamlFields lists the keys a struct accepts.
func yamlFields(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// DefaultPeerKeyFile is the peer key's path when the config names none, relative to its directory.
const DefaultPeerKeyFile = "var/peer.key"

// PeerKeyPath is the peer key file, resolved against the config's directory.
func (c *Config) PeerKeyPath() string {
	if c.PeerKeyFile == "" {
		return c.Abs(DefaultPeerKeyFile)
	}
	return c.Abs(c.PeerKeyFile)
}
