package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/probe"
)

// PrepareCanary logs the probe user in before the go-ahead and keeps that session on the worker's
// disk (0600, next to the secret store), so verification can prove that a session issued before
// the cutoff is dead. Only the canary's id goes into history. Idempotent: an existing canary is kept.
func (a *Probes) PrepareCanary(ctx context.Context, in contract.CanaryInput) (string, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return "", err
	}
	path := a.canaryPath(t, in.RunID)
	if _, err := os.Stat(path); err == nil {
		return filepath.Base(path), nil
	}
	creds, err := a.credentials(t)
	if err != nil {
		return "", err
	}
	sess, res := a.probe(t).Login(ctx, creds)
	if !res.OK {
		return "", fmt.Errorf("canary login on %s: status %d %s", t.Name, res.Got, res.Detail)
	}
	b, err := json.Marshal(sess)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("canary dir: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", fmt.Errorf("write canary: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write canary: %w", err)
	}
	return filepath.Base(path), nil
}

func (a *Probes) canaryPath(t *config.Target, runID string) string {
	name := strings.NewReplacer("/", "_", "..", "_").Replace(runID)
	return filepath.Join(a.Config.Abs(t.SecretStore.Dir), "canaries", name+".json")
}

func (a *Probes) loadCanary(t *config.Target, runID string) (probe.Session, error) {
	var s probe.Session
	b, err := os.ReadFile(a.canaryPath(t, runID))
	if err != nil {
		return s, fmt.Errorf("canary session of %s is gone (was the worker moved?): %w", runID, err)
	}
	return s, json.Unmarshal(b, &s)
}

// RevokeSessions applies the app logout policy: every token issued before now is rejected. It
// needs no compensation: revoked sessions are the safe state, and users simply log in again.
func (a *Probes) RevokeSessions(ctx context.Context, in contract.RevokeInput) (contract.RevokeResult, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return contract.RevokeResult{}, err
	}
	c, err := a.controls(t)
	if err != nil {
		return contract.RevokeResult{}, err
	}
	rev, err := c.RevokeSessions(ctx, in.Username)
	if err != nil {
		return contract.RevokeResult{}, controlErr(err)
	}
	res := contract.RevokeResult{Revoked: rev.Revoked, Cutoff: rev.Cutoff.UTC()}
	// Watch the canary until it is refused, so the run records when the old tokens stopped working.
	if sess, err := a.loadCanary(t, in.RunID); err == nil {
		pt := a.probe(t)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if r := pt.Me(ctx, "canary", sess.AccessToken, "", http.StatusUnauthorized); r.OK {
				res.CanaryRejected, res.CanaryRejectedAt = true, r.At.UTC()
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return res, nil
}

// RestrictRoutes makes sensitive routes answer Status; LiftRoutes is its compensation. With an
// edge (controls.edge) the routes are restricted there first, where traffic is cut, and read
// back through it; the backend's own restriction stays, for requests that reach it directly.
func (a *Probes) RestrictRoutes(ctx context.Context, in contract.RoutesInput) error {
	t, err := a.target(in.Target)
	if err != nil {
		return err
	}
	status := cmp.Or(in.Status, http.StatusServiceUnavailable)
	if err := checkEdgeInput(t, nil, in.Prefixes, status); err != nil {
		return err
	}
	c, err := a.controls(t)
	if err != nil {
		return err
	}
	if err := a.edgeRoutes(ctx, t, in.Prefixes, status, true); err != nil {
		return err
	}
	if err := c.RestrictRoutes(ctx, in.Prefixes, in.Status); err != nil {
		return controlErr(err)
	}
	for _, r := range a.readEdgeRoutes(ctx, t, in.Prefixes, status, true) {
		if !r.OK {
			return errors.New(r.Detail) // retried: nginx may not have loaded it yet
		}
	}
	return nil
}

// LiftRoutes removes the restrictions and checks that the routes no longer answer the
// restricted status. A check that the restriction deferred runs again now, with a normal
// result: when the admin path was under a lifted prefix, the probe user's token must get 403
// there (admin_forbidden_for_user).
func (a *Probes) LiftRoutes(ctx context.Context, in contract.RoutesInput) (probe.Results, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return nil, err
	}
	c, err := a.controls(t)
	if err != nil {
		return nil, err
	}
	status := cmp.Or(in.Status, http.StatusServiceUnavailable)
	if err := a.edgeRoutes(ctx, t, in.Prefixes, status, false); err != nil {
		return nil, err
	}
	if err := c.LiftRoutes(ctx, in.Prefixes); err != nil {
		return nil, controlErr(err)
	}
	// Read back after the backend lifted too: through the proxy, its answer is the backend's.
	edgeRs := a.readEdgeRoutes(ctx, t, in.Prefixes, status, false)
	st, err := c.State(ctx)
	if err != nil {
		return nil, controlErr(err)
	}
	pt := a.probe(t)
	var rs probe.Results
	for _, p := range in.Prefixes {
		r := probe.Result{Name: "restriction_lifted", Method: http.MethodGet, Path: p, Expected: 0, OK: true, At: time.Now().UTC()}
		for _, rr := range st.RestrictedRoutes {
			if rr.Prefix == p {
				r.OK, r.Got, r.Detail = false, rr.Status, "still restricted"
			}
		}
		if r.OK {
			// The route must answer something other than the restricted status again.
			got := pt.Expect(ctx, "route_reachable", http.MethodGet, p, "", in.Status)
			r.Got = got.Got
			r.OK = got.Got != in.Status
		}
		rs = append(rs, r)
	}
	for _, p := range in.Prefixes {
		if !probe.UnderPrefix(pt.PrivilegePath(), p) {
			continue
		}
		creds, err := a.credentials(t)
		if err != nil {
			rs = append(rs, probe.Result{Name: "admin_forbidden_for_user", Method: http.MethodGet, Path: pt.PrivilegePath(),
				Expected: http.StatusForbidden, Detail: err.Error(), At: time.Now().UTC()})
		} else {
			rs = append(rs, pt.AdminForbidden(ctx, creds))
		}
		break
	}
	return append(rs, edgeRs...), nil
}

// cutoverRestrictions pairs the restricted prefixes with their status.
func cutoverRestrictions(in contract.CutoverInput) []contract.RouteRestriction {
	var out []contract.RouteRestriction
	for _, p := range in.Restricted {
		out = append(out, contract.RouteRestriction{Prefix: p, Status: in.RestrictedStatus})
	}
	return out
}

// VerifyCutover is the emergency checklist: the pre-cutoff session is dead (bearer, refresh,
// cookie), a token minted with the old secret fails, a fresh login works with the right identity,
// every restricted prefix answers its restricted status, and every critical endpoint answers its
// expected status. A check that a restriction answers first (the privilege probe, a critical
// endpoint under a restricted prefix) is deferred until the restriction is lifted.
func (a *Probes) VerifyCutover(ctx context.Context, in contract.CutoverInput) (rs probe.Results, err error) {
	// Heartbeats, like Validate: a worker that dies mid-verification is noticed in seconds.
	err = heartbeatWhile(ctx, "verifying the cutover of "+in.Target, func() error {
		rs, err = a.verifyCutover(ctx, in)
		return err
	})
	return rs, err
}

func (a *Probes) verifyCutover(ctx context.Context, in contract.CutoverInput) (probe.Results, error) {
	t, err := a.target(in.Target)
	if err != nil {
		return nil, err
	}
	rs := a.canaryRefused(ctx, t, in.RunID)
	restricted := cutoverRestrictions(in)
	if !in.RotationValidated {
		// Validate checks the restricted prefixes and defers what they answer first.
		rot, err := a.Validate(ctx, contract.ValidateInput{Target: in.Target, LiveVersionID: in.LiveVersionID, RetiredVersionID: in.RetiredVersionID, Restricted: restricted})
		if err != nil {
			return nil, err
		}
		rs = append(rs, rot...)
	}
	return append(rs, a.criticalEndpoints(ctx, t, restricted, nil)...), nil
}

// ValidateCutover is Validate for the rotation of the emergency run in.CutoverOf, with that run's
// cutover checks in the same pass right after the redeploy, so that the emergency run need not
// log in again afterwards. The probe user's fresh login serves both, and the admin probe logs
// in at the same time: the backend hashes two passwords at once, not three one after another.
func (a *Probes) ValidateCutover(ctx context.Context, in contract.ValidateInput) (out contract.CutoverValidation, err error) {
	err = heartbeatWhile(ctx, "validating the cutover of "+in.Target, func() error {
		out, err = a.validateCutover(ctx, in)
		return err
	})
	return out, err
}

func (a *Probes) validateCutover(ctx context.Context, in contract.ValidateInput) (contract.CutoverValidation, error) {
	if in.CutoverOf == "" {
		return contract.CutoverValidation{}, temporal.NewNonRetryableApplicationError("validate cutover: no emergency run named", contract.ErrTypeConfig, nil)
	}
	t, store, err := a.targetStore(ctx, in.Target)
	if err != nil {
		return contract.CutoverValidation{}, err
	}
	live, retired, err := validationSecrets(ctx, store, in)
	if err != nil {
		return contract.CutoverValidation{}, err
	}
	creds, err := a.credentials(t)
	if err != nil {
		return contract.CutoverValidation{}, err
	}
	// The probe user's login is the rotation's own; the other roles log in beside it.
	roles := criticalRoles(t, map[string]string{"user": ""})
	pt := a.probe(t)
	health := pt.Health(ctx)
	var held map[string]string
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A role that cannot log in fails its critical endpoints' checks below.
		held, _ = a.logins(ctx, t, roles)
	}()
	sess, login := pt.Login(ctx, creds)
	<-done
	// The two lists share no state on the backend: check them at the same time.
	var out contract.CutoverValidation
	held["user"] = sess.AccessToken
	cut := make(chan struct{})
	go func() {
		defer close(cut)
		out.Cutover = append(a.canaryRefused(ctx, t, in.CutoverOf), a.criticalEndpoints(ctx, t, in.Restricted, held)...)
	}()
	rot := pt.VerifyLogin(ctx, creds, claims(t), sess, probe.Results{health, login}, live, retired)
	rot = append(rot, pt.CheckRestrictions(ctx, in.Restricted)...)
	out.Rotation = probe.DeferRestricted(rot, in.Restricted)
	<-cut
	return out, nil
}

// canaryRefused checks that the session the emergency run runID opened before its go-ahead is
// dead; a canary that cannot be read fails the check, since nothing was proven.
func (a *Probes) canaryRefused(ctx context.Context, t *config.Target, runID string) probe.Results {
	sess, err := a.loadCanary(t, runID)
	if err != nil {
		return probe.Results{{Name: "old_session_rejected", OK: false, Detail: err.Error(), At: time.Now().UTC()}}
	}
	return a.probe(t).VerifySessionCutover(ctx, sess)
}

// criticalEndpoints checks each configured endpoint, as no one, the probe user or the admin
// probe, for its own expected status; one that a restriction answers first is deferred. held
// are the tokens the caller already has, by role ("user", "admin"); the roles still needed log
// in at the same time, since each login costs the backend a bcrypt hash. A role whose
// credentials cannot be read fails its endpoints' checks: a verification result, never an
// error, so that the rotation that runs these checks never rolls back for them.
func (a *Probes) criticalEndpoints(ctx context.Context, t *config.Target, restricted []contract.RouteRestriction, held map[string]string) probe.Results {
	pt := a.probe(t)
	tokens, missing := a.logins(ctx, t, criticalRoles(t, held))
	maps.Copy(tokens, held)
	var rs probe.Results
	for _, e := range t.CriticalEndpoints {
		name := fmt.Sprintf("critical %s %s as %s", e.Method, e.Path, orNone(e.As))
		if err := missing[e.As]; err != nil {
			rs = append(rs, probe.Result{Name: name, Method: e.Method, Path: e.Path, Expected: e.ExpectedStatus,
				Detail: "no credentials for the " + e.As + " probe: " + err.Error(), At: time.Now().UTC()})
			continue
		}
		rs = append(rs, pt.Expect(ctx, name, e.Method, e.Path, tokens[e.As], e.ExpectedStatus))
	}
	return probe.DeferRestricted(rs, restricted)
}

// criticalRoles lists the roles the target's critical endpoints log in as, but those held.
func criticalRoles(t *config.Target, held map[string]string) []string {
	var roles []string
	for _, e := range t.CriticalEndpoints {
		if _, ok := held[e.As]; !ok && e.As != "" && !slices.Contains(roles, e.As) {
			roles = append(roles, e.As)
		}
	}
	return roles
}

// logins logs in as each role ("user": the probe user, "admin": the admin probe) at once and
// returns their access tokens. A role whose credentials cannot be read is in missing, with why;
// a login the backend refuses leaves its token empty, and the check that needs it then fails
// with what the backend answered.
func (a *Probes) logins(ctx context.Context, t *config.Target, roles []string) (tokens map[string]string, missing map[string]error) {
	creds := map[string]probe.Credentials{}
	missing = map[string]error{}
	for _, as := range roles {
		c, err := a.roleCredentials(t, as)
		if err != nil {
			missing[as] = err
			continue
		}
		creds[as] = c
	}
	pt := a.probe(t)
	var mu sync.Mutex
	var wg sync.WaitGroup
	tokens = map[string]string{}
	for as, c := range creds {
		wg.Go(func() {
			sess, _ := pt.Login(ctx, c)
			mu.Lock()
			tokens[as] = sess.AccessToken
			mu.Unlock()
		})
	}
	wg.Wait()
	return tokens, missing
}

// CleanupCanary removes the canary session once verification no longer needs it.
func (a *Probes) CleanupCanary(ctx context.Context, in contract.CanaryInput) error {
	t, err := a.target(in.Target)
	if err != nil {
		return err
	}
	if err := os.Remove(a.canaryPath(t, in.RunID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove canary: %w", err)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "anonymous"
	}
	return s
}
