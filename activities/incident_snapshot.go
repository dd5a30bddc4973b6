package activities

import (
	"context"
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

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/controls"
	"github.com/authops/authops/internal/secretstore"
)

// SnapshotTarget records a target's environment and auth settings, every value fingerprinted,
// and writes it to the incident's artifacts directory.
func (a *Incidents) SnapshotTarget(ctx context.Context, in contract.IncidentTargetInput) (contract.Snapshot, error) {
	t, store, err := a.targetStore(ctx, in.Target)
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
func (a *Incidents) configFingerprints(t *config.Target, store secretStore) (map[string]string, error) {
	plain := map[string]string{
		"base_url":             t.BaseURL,
		"channel":              t.Channel,
		"secret_store.kind":    t.SecretStore.Kind,
		"secret_store.dir":     t.SecretStore.Dir,
		"secret_store.name":    t.SecretStore.Name,
		"secret_store.address": t.SecretStore.Address,
		"secret_store.mount":   t.SecretStore.Mount,
		"secret_store.path":    t.SecretStore.Path,
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
	if auth := t.SecretStore.Auth; auth.Token != nil {
		refs["secret_store.auth.token"] = *auth.Token
	} else if auth.AppRole != nil {
		refs["secret_store.auth.approle.secret_id"] = auth.AppRole.SecretID
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
func (a *Incidents) healthz(ctx context.Context, t *config.Target) string {
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

// probeFrom returns the local addresses the worker reaches the target from: the local end of a
// TCP connection to the base URL's host, and 127.0.0.1 for a loopback target.
func (a *Incidents) probeFrom(ctx context.Context, t *config.Target) []string {
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
