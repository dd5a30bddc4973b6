package config

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// defaults fills in what the file leaves out; validate runs after it.
func (t *Target) defaults() {
	setDur := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	if t.SecretStore.Kind == "vault" && t.SecretStore.Dir == "" {
		// The worker's local state (canary sessions) needs a directory even when the secret
		// lives in Vault.
		t.SecretStore.Dir = "var/state/" + t.Name
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
	t.edgeDefaults()
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
	if field, err := t.SecretStore.validate(); err != nil {
		return f(field, "%s", err)
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
	if key, err := t.Probe.Endpoints.check(); err != nil {
		return f("probe.endpoints."+key, "%v", err)
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
	if err := t.validateEdge(); err != nil {
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
	for _, k := range sortedKeys(d.Env) {
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
