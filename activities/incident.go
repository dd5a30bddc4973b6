package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/atomicfile"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/controls"
	"github.com/authops/authops/internal/freeze"
	"github.com/authops/authops/internal/probe"
	"github.com/authops/authops/internal/report"
	"github.com/authops/authops/internal/secretstore"
)

// Runbook 1's activities. Inputs and results carry names, fingerprints and probe outcomes only.

// IncidentTargetInput names one affected target of an incident.
type IncidentTargetInput struct {
	Incident string `json:"incident"`
	Target   string `json:"target"`
}

// MeasureInput is one containment measure on one target.
type MeasureInput struct {
	Incident string                  `json:"incident"`
	ActionID string                  `json:"action_id"`
	Target   string                  `json:"target"`
	Request  contract.ContainRequest `json:"request"`
	// Previous is what an undo restores (the log level before the measure).
	Previous string `json:"previous,omitempty"`
}

// MeasureResult says what a measure (or its undo) did, read back from the backend's state.
type MeasureResult struct {
	Detail string `json:"detail"`
	// Previous is the value the measure replaced (the log level before), for its undo.
	Previous string `json:"previous,omitempty"`
}

// IncidentVerifyInput is what the verification checklist expects of one target.
type IncidentVerifyInput struct {
	Incident string `json:"incident"`
	Target   string `json:"target"`
	// ResetUsers must be refused with 403 at login; DeniedCIDRs refused from inside the range.
	ResetUsers  []string `json:"reset_users,omitempty"`
	DeniedCIDRs []string `json:"denied_cidrs,omitempty"`
}

// ReportInput is a run's report to write as artifacts.
type ReportInput struct {
	WorkflowID string          `json:"workflow_id"`
	Report     contract.Report `json:"report"`
}

// ArchiveInput is a part of an incident's timeline to archive before continue-as-new.
type ArchiveInput struct {
	Incident string           `json:"incident"`
	Part     int              `json:"part"`
	Events   []contract.Event `json:"events"`
}

// FreezeInput asks whether an incident other than Exempt freezes Target.
type FreezeInput struct {
	Target string `json:"target"`
	Exempt string `json:"exempt,omitempty"`
}

// LoadIncidentPolicy returns the incident policy: every target, its approvers (and their
// union), people, gateway keys, clocks, status cadences, action rules and the second-person
// rules.
func (a *Activities) LoadIncidentPolicy(ctx context.Context) (contract.IncidentPolicy, error) {
	people, err := a.Config.People()
	if err != nil {
		return contract.IncidentPolicy{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, nil)
	}
	gateway, err := a.Config.GatewayKeys()
	if err != nil {
		return contract.IncidentPolicy{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, nil)
	}
	names := a.Config.TargetNames()
	ic := a.Config.Incident
	p := contract.IncidentPolicy{
		Targets:      names,
		Approvers:    a.Config.Approvers(),
		People:       people,
		GatewayKeys:  gateway,
		OwnerAck:     ic.OwnerAck.D(),
		FirstSteps:   ic.FirstSteps.D(),
		StatusEvery:  map[string]time.Duration{},
		Actions:      map[string]contract.ActionRule{},
		HistoryLimit: ic.HistoryLimit,
		Timeouts:     a.Config.Timeouts.Contract(),

		DedicatedChannel: ic.DedicatedChannel,

		TargetApprovers:   map[string][]string{},
		Owners:            slices.Clone(ic.Owners),
		AdminAccounts:     a.Config.AdminAccounts(),
		DenyWithoutQuorum: ic.DenyWithoutQuorum.Contract(),
		KeepFor:           ic.KeepFor.D(),
	}
	if ic.ResetWithoutQuorum != nil {
		p.ResetWithoutQuorum = *ic.ResetWithoutQuorum
	}
	for _, n := range names {
		p.TargetApprovers[n] = slices.Clone(a.Config.Targets[n].Approvers)
	}
	if len(names) > 0 {
		p.Channel = a.Config.Targets[names[0]].Channel
	}
	for sev, d := range ic.StatusEvery {
		p.StatusEvery[sev] = d.D()
	}
	for kind, r := range ic.Actions {
		p.Actions[kind] = contract.ActionRule{Who: slices.Clone(r.Who), Quorum: r.Quorum}
	}
	return p, nil
}

// SnapshotTarget records a target's environment and auth settings, every value fingerprinted,
// and writes it to the incident's artifacts directory.
func (a *Activities) SnapshotTarget(ctx context.Context, in IncidentTargetInput) (contract.Snapshot, error) {
	t, store, err := a.targetStore(in.Target)
	if err != nil {
		return contract.Snapshot{}, err
	}
	dir, err := a.artifactDir(in.Incident)
	if err != nil {
		return contract.Snapshot{}, err
	}
	s := contract.Snapshot{Target: t.Name, At: time.Now().UTC(), Deploy: deploySettings(t), ProbeFrom: a.probeFrom(ctx, t)}
	if s.Config, err = a.configFingerprints(t, store); err != nil {
		return contract.Snapshot{}, err
	}
	v, found, err := store.ByStage(ctx, secretstore.StageCurrent)
	if err != nil {
		return contract.Snapshot{}, fmt.Errorf("read secret store of %s: %w", t.Name, err)
	}
	if found {
		s.Secret = contract.VersionRef{ID: v.ID, Fingerprint: v.Fingerprint}
	}
	s.Healthz = a.healthz(ctx, t)
	c, err := a.controls(t)
	if err != nil {
		return contract.Snapshot{}, err
	}
	st, err := c.State(ctx)
	if err != nil {
		return contract.Snapshot{}, controlErr(err)
	}
	s.Controls = controlState(st)

	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return contract.Snapshot{}, err
	}
	ref, err := writeArtifact(filepath.Join(dir, "snapshot-"+t.Name+".json"), append(b, '\n'))
	if err != nil {
		return contract.Snapshot{}, err
	}
	s.Artifact = ref
	return s, nil
}

// configFingerprints maps each config key of the target, and each key of its env file, to the
// fingerprint of its value. Credentials are fingerprinted by their resolved value, so that a
// changed admin token or probe password shows; a reference that does not resolve says so.
func (a *Activities) configFingerprints(t *config.Target, store *secretstore.File) (map[string]string, error) {
	plain := map[string]string{
		"base_url":             t.BaseURL,
		"channel":              t.Channel,
		"secret_store.kind":    t.SecretStore.Kind,
		"secret_store.dir":     t.SecretStore.Dir,
		"secret_store.name":    t.SecretStore.Name,
		"env_sink.kind":        t.EnvSink.Kind,
		"env_sink.path":        t.EnvSink.Path,
		"env_sink.key":         t.EnvSink.Key,
		"probe.username":       t.Probe.Username,
		"probe.admin_path":     t.Probe.AdminPath,
		"probe.admin_username": t.Probe.AdminUsername,
		"probe.timeout":        t.Probe.Timeout.D().String(),
		"claims.issuer":        t.Claims.Issuer,
		"claims.role":          t.Claims.Role,
		"claims.ttl":           t.Claims.TTL.D().String(),
		"approvers":            strings.Join(t.Approvers, ","),
		"quorum.rotation":      strconv.Itoa(t.Quorum.Rotation),
		"quorum.emergency":     strconv.Itoa(t.Quorum.Emergency),
		"freeze":               t.Freeze,
	}
	out := map[string]string{}
	for k, v := range plain {
		out[k] = store.Fingerprint(v)
	}
	refs := map[string]config.Ref{"admin.token": t.Admin.Token, "probe.password": t.Probe.Password}
	if t.Probe.AdminUsername != "" {
		refs["probe.admin_password"] = t.Probe.AdminPassword
	}
	for k, r := range refs {
		if v, err := a.Config.Resolve("targets."+t.Name+"."+k, r); err == nil {
			out[k] = store.Fingerprint(v)
		} else {
			out[k] = "unresolved"
		}
	}
	env := a.sink(t)
	keys, err := envKeys(env.Path)
	if err != nil {
		return nil, fmt.Errorf("read env file of %s: %w", t.Name, err)
	}
	for _, k := range keys {
		v, ok, err := env.Get(k)
		if err != nil {
			return nil, fmt.Errorf("read env file of %s: %w", t.Name, err)
		}
		if ok {
			out["env."+k] = store.Fingerprint(v)
		}
	}
	return out, nil
}

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// envKeys lists the keys of a dotenv file's KEY=VALUE lines, each once; a missing file has none.
// The values are read through envfile, which unquotes them as the sink does.
func envKeys(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		k = strings.TrimSpace(k)
		if ok && envKey.MatchString(k) && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// deploySettings are the target's deploy settings as plain text: header names, never values.
func deploySettings(t *config.Target) map[string]string {
	d := t.Deployer
	m := map[string]string{
		"kind":              d.Kind,
		"timeout":           d.Timeout.D().String(),
		"readiness_timeout": d.ReadinessTimeout.D().String(),
	}
	if d.Kind == "http" {
		m["method"] = d.Method
		if u, err := url.Parse(d.URL); err == nil {
			u.RawQuery, u.Fragment = "", ""
			m["url"] = u.Redacted()
		}
		var names []string
		for h := range d.HeadersFromEnv {
			names = append(names, h)
		}
		slices.Sort(names)
		m["headers"] = strings.Join(names, ",")
	} else {
		m["argv"] = strings.Join(d.Argv, " ")
		m["dry_run_argv"] = strings.Join(d.DryRunArgv, " ")
		m["dir"] = d.Dir
	}
	return m
}

// maxHealthz bounds the /healthz answer a snapshot keeps.
const maxHealthz = 256

// healthz returns the /healthz answer as "STATUS BODY", or why there was none.
func (a *Activities) healthz(ctx context.Context, t *config.Target) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(t.BaseURL, "/")+"/healthz", nil)
	if err != nil {
		return "bad request: " + err.Error()
	}
	resp, err := a.httpClient(t).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return contract.CleanText("unreachable: " + err.Error())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return capText(fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body))), maxHealthz)
}

// jwtLike matches JWT-shaped text, which an answer from a target must never carry into history.
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*)?`)

func capText(s string, n int) string {
	s = contract.CleanText(jwtLike.ReplaceAllString(s, "[REDACTED]"))
	if len(s) > n {
		cut := n
		for cut > 0 && (s[cut]&0xC0) == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func (a *Activities) httpClient(t *config.Target) *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	timeout := t.Probe.Timeout.D()
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// probeFrom returns the local addresses the worker reaches the target from: the local end of a
// TCP connection to the base URL's host, and 127.0.0.1 for a loopback target.
func (a *Activities) probeFrom(ctx context.Context, t *config.Target) []string {
	u, err := url.Parse(t.BaseURL)
	if err != nil {
		return nil
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	var out []string
	d := net.Dialer{Timeout: 5 * time.Second}
	if conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port)); err == nil {
		if ta, ok := conn.LocalAddr().(*net.TCPAddr); ok {
			if ip, ok := netip.AddrFromSlice(ta.IP); ok {
				out = append(out, ip.Unmap().String())
			}
		}
		_ = conn.Close()
	}
	if isLoopback(host) && !slices.Contains(out, "127.0.0.1") {
		out = append(out, "127.0.0.1")
	}
	return out
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func controlState(st controls.State) contract.ControlState {
	cs := contract.ControlState{
		ActiveSessions:     st.ActiveSessions,
		RevokedSessions:    st.RevokedSessions,
		PasswordResetUsers: nonNilStrings(st.PasswordResetUsers),
		LogLevel:           st.LogLevel,
		RestrictedRoutes:   []string{},
		DeniedCIDRs:        nonNilStrings(st.DeniedCIDRs),
	}
	if st.RevokedBefore != nil {
		cs.RevokedBefore = st.RevokedBefore.UTC()
	}
	for _, r := range st.RestrictedRoutes {
		cs.RestrictedRoutes = append(cs.RestrictedRoutes, fmt.Sprintf("%s (%d)", r.Prefix, r.Status))
	}
	return cs
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// ConfirmAuth checks that the auth endpoints answer: /healthz, a probe login and /auth/me.
func (a *Activities) ConfirmAuth(ctx context.Context, in IncidentTargetInput) (contract.ProbeResults, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return nil, err
	}
	creds, err := a.credentials(t)
	if err != nil {
		return nil, err
	}
	return a.probe(t).Baseline(ctx, creds), nil
}

// ApplyMeasure applies a containment measure through the target's control API and reads the
// state back.
func (a *Activities) ApplyMeasure(ctx context.Context, in MeasureInput) (MeasureResult, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return MeasureResult{}, err
	}
	r := in.Request
	if err := r.Validate(); err != nil {
		return MeasureResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, nil)
	}
	c, err := a.controls(t)
	if err != nil {
		return MeasureResult{}, err
	}
	var res MeasureResult
	var did string
	switch r.Kind {
	case contract.ContainLogoutAll:
		rev, err := c.RevokeSessions(ctx, "")
		if err != nil {
			return MeasureResult{}, controlErr(err)
		}
		did = fmt.Sprintf("revoked %d sessions, every token issued before %s", rev.Revoked, rev.Cutoff.UTC().Format(time.RFC3339))
	case contract.ContainLogoutUsers:
		n, err := revokeUsers(ctx, c, r.Users)
		if err != nil {
			return MeasureResult{}, err
		}
		did = fmt.Sprintf("revoked %d sessions of %s", n, strings.Join(r.Users, ", "))
	case contract.ContainDenyCIDR:
		cidrs, err := a.checkDeny(ctx, t, r)
		if err != nil {
			return MeasureResult{}, err
		}
		if err := c.DenyCIDRs(ctx, cidrs); err != nil {
			return MeasureResult{}, controlErr(err)
		}
		did = "denied " + strings.Join(cidrs, ", ")
	case contract.ContainLogLevel:
		prev, err := setLogLevel(ctx, c, r.Level)
		if err != nil {
			return MeasureResult{}, err
		}
		res.Previous = prev
		did = fmt.Sprintf("log level %s (was %s)", r.Level, prev)
	case contract.ContainRequireReset:
		if err := c.RequirePasswordReset(ctx, r.Users, true); err != nil {
			return MeasureResult{}, controlErr(err)
		}
		// The demo backend revokes them with the reset; a backend that does not gets them revoked here.
		if _, err := revokeUsers(ctx, c, r.Users); err != nil {
			return MeasureResult{}, err
		}
		did = fmt.Sprintf("password reset required for %s; their sessions revoked", strings.Join(r.Users, ", "))
	default:
		return MeasureResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s is a runbook run, not a measure of the control API", r.Kind), ErrTypeConfig, nil)
	}
	st, err := c.State(ctx)
	if err != nil {
		return MeasureResult{}, controlErr(err)
	}
	if err := checkApplied(r, st); err != nil {
		return MeasureResult{}, err
	}
	res.Detail = contract.CleanText(did + "; " + describeState(r.Kind, st))
	return res, nil
}

// revokeUsers revokes every session of the users, all of them or, when one is unknown (the
// control API's 400), none, and returns how many there were.
func revokeUsers(ctx context.Context, c controls.Client, users []string) (int, error) {
	// An empty list would revoke every session: the API takes it for a global logout.
	if len(users) == 0 {
		return 0, temporal.NewNonRetryableApplicationError("no users given", ErrTypeConfig, nil)
	}
	rev, err := c.RevokeUsers(ctx, users)
	if err != nil {
		return 0, controlErr(err)
	}
	return rev.Revoked, nil
}

// checkDeny puts the ranges in their normal form and refuses one that is invalid, or, without
// force, ranges that together lock everyone or the worker's own probes out: the workflow checks
// this too (with the incident's other ranges), this is the last line.
func (a *Activities) checkDeny(ctx context.Context, t *config.Target, r contract.ContainRequest) ([]string, error) {
	if err := contract.CheckDenyRanges(nil, r.CIDRs, r.Force, a.probeFrom(ctx, t)); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, nil)
	}
	cidrs, err := contract.NormalizeCIDRs(r.CIDRs)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, nil)
	}
	return cidrs, nil
}

// setLogLevel sets the level and returns the level before. The level before is kept in the
// activity's heartbeat details, so a retry after the change still returns the original level
// rather than the one this measure set.
func setLogLevel(ctx context.Context, c controls.Client, level string) (string, error) {
	var prev string
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &prev); err != nil {
			prev = ""
		}
	}
	if prev == "" {
		st, err := c.State(ctx)
		if err != nil {
			return "", controlErr(err)
		}
		prev = st.LogLevel
		activity.RecordHeartbeat(ctx, prev)
	}
	if _, err := c.SetLogLevel(ctx, level); err != nil {
		return "", controlErr(err)
	}
	return prev, nil
}

// checkApplied reads the measure back from the backend's state: a measure the state does not
// show was not applied, whatever the control API answered.
func checkApplied(r contract.ContainRequest, st controls.State) error {
	switch r.Kind {
	case contract.ContainDenyCIDR:
		for _, s := range r.CIDRs {
			if !deniedIn(st, s) {
				return fmt.Errorf("deny %s: the backend's state does not list it (denies: %s)", s, noneIfEmpty(strings.Join(st.DeniedCIDRs, ", ")))
			}
		}
	case contract.ContainLogLevel:
		if st.LogLevel != r.Level {
			return fmt.Errorf("log level %s: the backend's state says %s", r.Level, st.LogLevel)
		}
	case contract.ContainRequireReset:
		for _, u := range r.Users {
			if !slices.Contains(st.PasswordResetUsers, u) {
				return fmt.Errorf("password reset of %s: the backend's state does not list it", u)
			}
		}
	}
	return nil
}

// deniedIn reports whether the state's deny list holds cidr, both in the normal form.
func deniedIn(st controls.State, cidr string) bool {
	p, ok := denyForm(cidr)
	if !ok {
		return false
	}
	return slices.ContainsFunc(st.DeniedCIDRs, func(d string) bool {
		q, ok := denyForm(d)
		return ok && q == p
	})
}

// denyForm is a range in the normal form (contract.NormalizeCIDR), or, for a range that form
// refuses (host bits set, written before the normal form), masked as the backend stores it.
func denyForm(cidr string) (netip.Prefix, bool) {
	if p, err := contract.NormalizeCIDR(cidr); err == nil {
		return p, true
	}
	p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	if err != nil {
		return netip.Prefix{}, false
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}

// describeState says what the backend's state shows about a kind of measure.
func describeState(kind string, st controls.State) string {
	switch kind {
	case contract.ContainDenyCIDR:
		return "backend denies: " + noneIfEmpty(strings.Join(st.DeniedCIDRs, ", "))
	case contract.ContainLogLevel:
		return "backend log level: " + st.LogLevel
	case contract.ContainRequireReset:
		return fmt.Sprintf("backend resets: %s; active sessions: %d", noneIfEmpty(strings.Join(st.PasswordResetUsers, ", ")), st.ActiveSessions)
	default:
		s := fmt.Sprintf("backend: %d active sessions, %d revoked", st.ActiveSessions, st.RevokedSessions)
		if st.RevokedBefore != nil {
			s += ", cutoff " + st.RevokedBefore.UTC().Format(time.RFC3339)
		}
		return s
	}
}

// UndoMeasure undoes a temporary measure and verifies it is gone.
func (a *Activities) UndoMeasure(ctx context.Context, in MeasureInput) (MeasureResult, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return MeasureResult{}, err
	}
	r := in.Request
	nonRetryable := func(msg string) error {
		return temporal.NewNonRetryableApplicationError(msg, ErrTypeConfig, nil)
	}
	switch r.Kind {
	case contract.ContainDenyCIDR:
		// An empty list would allow every range: the control API lifts all denies then.
		if len(r.CIDRs) == 0 {
			return MeasureResult{}, nonRetryable("undo deny-cidr: no CIDRs given")
		}
		if err := controls.ValidateCIDRs(r.CIDRs); err != nil {
			return MeasureResult{}, nonRetryable("undo deny-cidr: " + err.Error())
		}
	case contract.ContainLogLevel:
		if !slices.Contains(contract.LogLevels, in.Previous) {
			return MeasureResult{}, nonRetryable(fmt.Sprintf("undo log-level: the level to restore must be one of %s, got %q",
				strings.Join(contract.LogLevels, ", "), contract.CleanText(in.Previous)))
		}
	default:
		return MeasureResult{}, nonRetryable(fmt.Sprintf("%s has no undo", contract.CleanText(r.Kind)))
	}
	c, err := a.controls(t)
	if err != nil {
		return MeasureResult{}, err
	}
	var did string
	if r.Kind == contract.ContainDenyCIDR {
		if err := c.AllowCIDRs(ctx, r.CIDRs); err != nil {
			return MeasureResult{}, controlErr(err)
		}
		did = "allowed " + strings.Join(r.CIDRs, ", ")
	} else {
		if _, err := c.SetLogLevel(ctx, in.Previous); err != nil {
			return MeasureResult{}, controlErr(err)
		}
		did = "log level restored to " + in.Previous
	}
	st, err := c.State(ctx)
	if err != nil {
		return MeasureResult{}, controlErr(err)
	}
	if r.Kind == contract.ContainDenyCIDR {
		for _, s := range r.CIDRs {
			if deniedIn(st, s) {
				return MeasureResult{}, fmt.Errorf("undo deny %s: the backend still denies it (denies: %s)", s, strings.Join(st.DeniedCIDRs, ", "))
			}
		}
	} else if st.LogLevel != in.Previous {
		return MeasureResult{}, fmt.Errorf("undo log-level: the backend's state says %s, not %s", st.LogLevel, in.Previous)
	}
	return MeasureResult{Detail: contract.CleanText(did + "; " + describeState(r.Kind, st))}, nil
}

// wrongPassword is what the bad-password check sends: a fixed, obviously wrong value.
const wrongPassword = "authops-verify-wrong-password"

// VerifyIncident runs the verification checklist against a target.
func (a *Activities) VerifyIncident(ctx context.Context, in IncidentVerifyInput) (rs contract.ProbeResults, err error) {
	err = heartbeatWhile(ctx, "verifying incident controls on "+in.Target, func() error {
		rs, err = a.verifyIncident(ctx, in)
		return err
	})
	return rs, err
}

func (a *Activities) verifyIncident(ctx context.Context, in IncidentVerifyInput) (contract.ProbeResults, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return nil, err
	}
	creds, err := a.credentials(t)
	if err != nil {
		return nil, err
	}
	c, err := a.controls(t)
	if err != nil {
		return nil, err
	}
	st, err := c.State(ctx)
	if err != nil {
		return nil, controlErr(err)
	}
	pt := a.probe(t)
	secrets := []string{creds.Password}
	var rs probe.Results

	// POST /auth/token behaves as the controls say.
	sess, login := pt.Login(ctx, creds)
	secrets = append(secrets, sess.AccessToken, sess.RefreshToken, sess.Cookie)
	login.Name = "valid_login"
	rs = append(rs, login)
	rs = append(rs, a.loginCheck(ctx, t, nil, "bad_password_rejected", creds.Username, wrongPassword, http.StatusUnauthorized))
	for _, u := range in.ResetUsers {
		name := "reset_user_refused " + u
		if u == creds.Username {
			rs = append(rs, a.loginCheck(ctx, t, nil, name, u, creds.Password, http.StatusForbidden))
			continue
		}
		// The backend checks the password before the reset, and only the probe user's password is
		// known here: a login cannot show the 403, the backend's own state can.
		// So it is "not probed", never passed: only the state was read.
		r := contract.ProbeResult{Name: name, Method: http.MethodPost, Path: "/auth/token", Expected: http.StatusForbidden,
			At: time.Now().UTC(), NotProbed: slices.Contains(st.PasswordResetUsers, u)}
		if r.NotProbed {
			r.Detail = "not probed (the backend checks the password first, and only the probe user's is known); the backend's state requires a reset of " + u
		} else {
			r.Detail = "the backend's state does not require a reset of " + u
		}
		rs = append(rs, r)
	}
	for _, cidr := range in.DeniedCIDRs {
		rs = append(rs, a.deniedRangeCheck(ctx, t, creds, st, cidr))
	}

	// GET /auth/me answers a valid session only.
	if sess.AccessToken == "" {
		rs = append(rs, notRunResult("me_valid_session", http.MethodGet, "/auth/me", http.StatusOK, "probe login failed: "+login.Detail),
			notRunResult("me_tampered_token_rejected", http.MethodGet, "/auth/me", http.StatusUnauthorized, "probe login failed"),
			notRunResult("admin_forbidden_for_user", http.MethodGet, pt.PrivilegePath(), http.StatusForbidden, "probe login failed"))
	} else {
		rs = append(rs, pt.Me(ctx, "me_valid_session", sess.AccessToken, creds.Username, http.StatusOK),
			pt.Me(ctx, "me_tampered_token_rejected", probe.Tamper(sess.AccessToken), "", http.StatusUnauthorized),
			pt.Expect(ctx, "admin_forbidden_for_user", http.MethodGet, pt.PrivilegePath(), sess.AccessToken, http.StatusForbidden))
	}
	revoked, more := revokedSessionRejected(ctx, pt, creds)
	rs = append(rs, revoked)
	secrets = append(secrets, more...)

	var restricted []probe.Restriction
	for _, r := range st.RestrictedRoutes {
		restricted = append(restricted, probe.Restriction{Prefix: r.Prefix, Status: r.Status})
	}
	rs = probe.DeferRestricted(rs, restricted)
	for i := range rs {
		rs[i].Detail = scrubText(rs[i].Detail, secrets...)
	}
	return rs, nil
}

// revokedSessionRejected proves that a revoked session's token gets 401 without touching any
// session but one of its own: it logs the probe user in, uses the refresh token once, and
// replays it, which the backend takes for a stolen token and answers by revoking that session
// (the backend logs a refresh_token_reused security event for the probe user). It returns the
// tokens it handled, to scrub.
func revokedSessionRejected(ctx context.Context, pt probe.Target, creds probe.Credentials) (contract.ProbeResult, []string) {
	const name = "me_revoked_session_rejected"
	sess, login := pt.Login(ctx, creds)
	tokens := []string{sess.AccessToken, sess.RefreshToken, sess.Cookie}
	if sess.AccessToken == "" || sess.RefreshToken == "" {
		return notRunResult(name, http.MethodGet, "/auth/me", http.StatusUnauthorized, "probe login failed: "+login.Detail), tokens
	}
	if r := pt.Refresh(ctx, "refresh", sess.RefreshToken, http.StatusOK); !r.OK {
		return notRunResult(name, http.MethodGet, "/auth/me", http.StatusUnauthorized, "could not revoke a probe session: refresh: "+r.Detail), tokens
	}
	if r := pt.Refresh(ctx, "refresh_replayed", sess.RefreshToken, http.StatusUnauthorized); !r.OK {
		return notRunResult(name, http.MethodGet, "/auth/me", http.StatusUnauthorized,
			"could not revoke a probe session: a replayed refresh token was not refused: "+r.Detail), tokens
	}
	r := pt.Me(ctx, name, sess.AccessToken, "", http.StatusUnauthorized)
	if r.OK {
		r.Detail = "a probe session revoked by replaying its used refresh token"
	}
	return r, tokens
}

// deniedRangeCheck sends a probe login from a local address inside cidr and expects it refused.
// Without such an address the check is not probed (never passed): it only reads that the
// backend's state lists the range, and fails when it does not.
func (a *Activities) deniedRangeCheck(ctx context.Context, t *config.Target, creds probe.Credentials, st controls.State, cidr string) contract.ProbeResult {
	p, valid := denyForm(cidr)
	if valid {
		cidr = p.String()
	}
	name := "denied_range_refused " + cidr
	from, ok := localAddrIn(t, p)
	if !valid || !ok {
		r := contract.ProbeResult{Name: name, Method: http.MethodPost, Path: "/auth/token", Expected: http.StatusForbidden,
			At: time.Now().UTC(), NotProbed: valid && deniedIn(st, cidr)}
		switch {
		case !valid:
			r.Detail = "not a CIDR: nothing to probe"
		case r.NotProbed:
			r.Detail = "not probed: no local address in range to probe from; the backend's deny list holds it"
		default:
			r.Detail = "no local address in range to probe from, and the backend's deny list does not hold it"
		}
		return r
	}
	r := a.loginCheck(ctx, t, &net.TCPAddr{IP: from.AsSlice()}, name, creds.Username, creds.Password, http.StatusForbidden)
	r.Detail = strings.TrimPrefix(r.Detail+"; from "+from.String(), "; ")
	return r
}

// localAddrIn picks a local address inside the (normal form) range p that can reach the
// target and that this host can bind: for a loopback target a loopback address (127.0.0.2 when
// the range holds it), otherwise an address of one of this host's interfaces.
func localAddrIn(t *config.Target, p netip.Prefix) (netip.Addr, bool) {
	if !p.IsValid() {
		return netip.Addr{}, false
	}
	u, err := url.Parse(t.BaseURL)
	if err != nil {
		return netip.Addr{}, false
	}
	if isLoopback(u.Hostname()) {
		for _, c := range []netip.Addr{netip.MustParseAddr("127.0.0.2"), p.Addr().Next(), p.Addr()} {
			if c.IsValid() && c.Is4() && c.IsLoopback() && p.Contains(c) && c != netip.MustParseAddr("127.0.0.0") && canBind(c) {
				return c, true
			}
		}
		return netip.Addr{}, false
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}, false
	}
	for _, ad := range addrs {
		if ipn, ok := ad.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok && !ip.Unmap().IsLoopback() && p.Contains(ip.Unmap()) {
				return ip.Unmap(), true
			}
		}
	}
	return netip.Addr{}, false
}

// canBind reports whether this host can send from a: Linux routes all of 127.0.0.0/8 to the
// loopback interface, other systems only the addresses configured on it.
func canBind(a netip.Addr) bool {
	c, err := net.ListenPacket("udp", netip.AddrPortFrom(a, 0).String())
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// loginCheck posts a login and expects want; from, when set, is the local address to send from.
// A request that cannot be sent is a failed check.
func (a *Activities) loginCheck(ctx context.Context, t *config.Target, from *net.TCPAddr, name, user, password string, want int) contract.ProbeResult {
	start := time.Now()
	r := contract.ProbeResult{Name: name, Method: http.MethodPost, Path: "/auth/token", Expected: want, At: start.UTC()}
	hc := a.httpClient(t)
	if from != nil {
		timeout := t.Probe.Timeout.D()
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		d := &net.Dialer{LocalAddr: from, Timeout: timeout}
		hc = &http.Client{
			Timeout:       timeout,
			Transport:     &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(t.BaseURL, "/")+"/auth/token", bytes.NewReader(body))
	if err != nil {
		r.Detail = "bad request"
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	r.ElapsedMS = time.Since(start).Milliseconds()
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		r.Detail = scrubText("request failed: "+err.Error(), password)
		return r
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	r.Got, r.OK = resp.StatusCode, resp.StatusCode == want
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" && len(e.Error) <= 64 {
		r.Detail = e.Error
	}
	if !r.OK {
		r.Detail = strings.TrimSuffix(fmt.Sprintf("expected %d, got %d (%s)", want, resp.StatusCode, r.Detail), " ()")
	}
	r.Detail = scrubText(r.Detail, password)
	return r
}

func notRunResult(name, method, path string, want int, detail string) contract.ProbeResult {
	return contract.ProbeResult{Name: name, Method: method, Path: path, Expected: want, Detail: detail, At: time.Now().UTC()}
}

// scrubText removes the given values and JWT-shaped text, and bounds the length.
func scrubText(s string, secrets ...string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return capText(s, 300)
}

// WriteReport writes a run's report as Markdown and JSON to its artifacts directory, with any
// archived timeline parts put back in.
func (a *Activities) WriteReport(ctx context.Context, in ReportInput) ([]contract.ArtifactRef, error) {
	dir, err := a.artifactDir(in.WorkflowID)
	if err != nil {
		return nil, err
	}
	r := in.Report
	var timeline []contract.Event
	for _, ref := range r.Archived {
		events, err := a.readArchive(ref)
		if err != nil {
			// The report is still written, with the gap on its timeline.
			activity.GetLogger(ctx).Warn("archived timeline part unreadable", "path", ref.Path, "error", err.Error())
			timeline = append(timeline, contract.Event{Actor: "authops", Action: "archived timeline part missing",
				Outcome: contract.StateFailed, Detail: contract.CleanText(fmt.Sprintf("%s (sha256 %s): %v", ref.Path, ref.Digest, err))})
			continue
		}
		timeline = append(timeline, events...)
	}
	r.Timeline = append(timeline, r.Timeline...)

	var js, md bytes.Buffer
	if err := report.JSON(&js, r); err != nil {
		return nil, fmt.Errorf("render report JSON: %w", err)
	}
	if err := report.Markdown(&md, r); err != nil {
		return nil, fmt.Errorf("render report Markdown: %w", err)
	}
	mdRef, err := writeArtifact(filepath.Join(dir, "report.md"), md.Bytes())
	if err != nil {
		return nil, err
	}
	jsRef, err := writeArtifact(filepath.Join(dir, "report.json"), js.Bytes())
	if err != nil {
		return nil, err
	}
	return []contract.ArtifactRef{mdRef, jsRef}, nil
}

// timelinePart is the content of an archived timeline part.
type timelinePart struct {
	Incident string           `json:"incident"`
	Part     int              `json:"part"`
	Events   []contract.Event `json:"events"`
}

// readArchive reads an archived part back, from under the artifacts directory only, and checks
// its digest.
func (a *Activities) readArchive(ref contract.ArtifactRef) ([]contract.Event, error) {
	root := a.Config.ArtifactsDir()
	rel, err := filepath.Rel(root, filepath.Clean(ref.Path))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return nil, errors.New("not under the artifacts directory")
	}
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return nil, err
	}
	if d := digest(b); d != ref.Digest {
		return nil, fmt.Errorf("digest mismatch: the file's sha256 is %s", d)
	}
	var p timelinePart
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return p.Events, nil
}

// ArchiveTimeline writes a part of a timeline to the artifacts directory.
func (a *Activities) ArchiveTimeline(ctx context.Context, in ArchiveInput) (contract.ArtifactRef, error) {
	if in.Part < 0 {
		return contract.ArtifactRef{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("archive part must not be negative, got %d", in.Part), ErrTypeConfig, nil)
	}
	dir, err := a.artifactDir(in.Incident)
	if err != nil {
		return contract.ArtifactRef{}, err
	}
	b, err := json.MarshalIndent(timelinePart(in), "", "  ")
	if err != nil {
		return contract.ArtifactRef{}, err
	}
	ref, err := writeArtifact(filepath.Join(dir, fmt.Sprintf("timeline-part-%d.json", in.Part)), append(b, '\n'))
	if err != nil {
		return contract.ArtifactRef{}, err
	}
	ref.Events = len(in.Events)
	return ref, nil
}

// FrozenBy returns the id of a running incident, other than in.Exempt, that freezes in.Target,
// or "".
func (a *Activities) FrozenBy(ctx context.Context, in FreezeInput) (string, error) {
	if _, err := a.target(in.Target); err != nil {
		return "", err
	}
	if a.Freezes == nil {
		activity.GetLogger(ctx).Warn("this worker has no Temporal client to read freezes with; treating the target as not frozen", "target", in.Target)
		return "", nil
	}
	fs, err := freeze.List(ctx, a.Freezes, activity.GetInfo(ctx).Namespace, in.Target)
	if err != nil {
		return "", err
	}
	for _, f := range fs {
		if f.Incident != in.Exempt {
			return f.Incident, nil
		}
	}
	return "", nil
}

// artifactName is a run id that is safe as a directory name.
var artifactName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$`)

// artifactDir returns (and creates) the artifacts directory of a run.
func (a *Activities) artifactDir(id string) (string, error) {
	if !artifactName.MatchString(id) || strings.Contains(id, "..") {
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%q cannot name an artifacts directory", contract.CleanText(id)), ErrTypeConfig, nil)
	}
	dir := filepath.Join(a.Config.ArtifactsDir(), id)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("artifacts directory: %w", err)
	}
	return dir, nil
}

// writeArtifact writes data atomically and names it by path and SHA-256.
func writeArtifact(path string, data []byte) (contract.ArtifactRef, error) {
	if err := atomicfile.Write(path, data, atomicfile.Options{Perm: 0o640}); err != nil {
		return contract.ArtifactRef{}, fmt.Errorf("write %s: %w", path, err)
	}
	return contract.ArtifactRef{Path: path, Digest: digest(data)}, nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// noneIfEmpty says "none" for an empty list.
func noneIfEmpty(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
