package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/freeze"
	"github.com/authops/authops/internal/runs"
	"github.com/authops/authops/starter/gateway"
)

// gatewayRuns carries out the gateway's requests through the same typed client as the CLI's
// commands, signed with the gateway's key on behalf of the Slack user's person, and writes the
// answers as the CLI prints them.
type gatewayRuns struct {
	runs *runs.Client
	// cfg is the config the gateway loaded at start, or at the last good SIGHUP.
	cfg  atomic.Pointer[config.Config]
	path string
	key  ssh.Signer
	now  func() time.Time
}

// newGatewayRuns serves the gateway's requests with tc, judged by cfg until a reload.
func newGatewayRuns(a *app, tc runs.Temporal, cfg *config.Config, key ssh.Signer, logger *slog.Logger) *gatewayRuns {
	g := &gatewayRuns{key: key, now: time.Now}
	g.cfg.Store(cfg)
	g.runs = runs.New(runs.Options{
		Dial:      func() (runs.Temporal, error) { return tc, nil },
		Config:    func(...string) (*config.Config, error) { return g.cfg.Load(), nil },
		Namespace: a.namespace,
		Identity:  gatewayIdentity(),
		Log:       logger,
	})
	return g
}

// Close closes the Temporal client.
func (g *gatewayRuns) Close() { g.runs.Close() }

// signer signs for who: the gateway's key, for the person whose slack_id who is only.
func (g *gatewayRuns) signer(who gateway.Actor) runs.Signer {
	return runs.SlackUser{Gateway: g.key, Person: who.Person, User: who.SlackUser}
}

// Run carries out a /runbook command. What the sender typed goes into typed fields, never into
// anything parsed again, so nothing typed in Slack can become a flag.
func (g *gatewayRuns) Run(ctx context.Context, who gateway.Actor, cmd gateway.Command) (string, error) {
	s := g.signer(who)
	run := runs.Run{WorkflowID: cmd.ID, UpdateID: cmd.UpdateID}
	var out bytes.Buffer
	switch cmd.Verb {
	case "status":
		st, err := g.runs.Status(ctx, cmd.ID)
		if err != nil {
			return "", err
		}
		err = writeRunStatus(&out, st)
		return out.String(), err
	case "freeze":
		fs, err := g.runs.Freezes(ctx)
		if err != nil {
			return "", err
		}
		err = writeFreezes(&out, fs)
		return out.String(), err
	case "rotate":
		in := contract.RotationInput{Target: cmd.Target, RequestedBy: who.Person, Mode: contract.ModeManual,
			Reason: cmp.Or(cmd.Text, runs.DefaultRotationReason)}
		if at, ok := g.windowStart(cmd); ok {
			in.WindowStart = at
		}
		return started(g.runs.StartRotation(ctx, s, runs.RotationRequest{RotationInput: in}))
	case "invalidate":
		in := contract.InvalidationInput{Target: cmd.Target, RequestedBy: who.Person, Reason: cmd.Text,
			Trigger: contract.TriggerTokenAbuse, Restrict: cmd.Restrict, BreakGlass: cmd.BreakGlass,
			RestrictStatus: runs.DefaultRestrictStatus}
		if len(in.Restrict) > 0 {
			in.RestrictTTL = runs.DefaultRestrictTTL
		}
		return started(g.runs.StartInvalidation(ctx, s, runs.InvalidationRequest{InvalidationInput: in}))
	case "declare":
		run, err := g.runs.Declare(ctx, s, runs.DeclareRequest{ID: cmd.ID, IncidentInput: contract.IncidentInput{
			Trigger: cmd.Trigger, Severity: cmd.Severity, Summary: cmd.Text, Reporter: who.Person,
			Targets: cmd.Targets, Source: "slack"}})
		if err != nil {
			return "", err
		}
		writeDeclared(&out, run.WorkflowID)
		return out.String(), nil
	case "owner":
		return decided(g.runs.Own(ctx, s, runs.IncidentDecision{Run: run, Actor: who.Person, Comment: cmd.Text}))
	case "verify":
		return decided(g.runs.Verify(ctx, s, runs.IncidentDecision{Run: run, Actor: who.Person, Comment: cmd.Text}))
	case "note":
		return decided(g.runs.Note(ctx, s, runs.NoteRequest{Run: run, Actor: who.Person, Text: cmd.Text, Status: cmd.Status}))
	case "contain":
		req := runs.ContainRequest{Run: run, Actor: who.Person, ContainRequest: contract.ContainRequest{Kind: cmd.Kind,
			Target: cmd.Target, Reason: cmd.Text, Restrict: cmd.Restrict, TTL: cmd.TTL, Force: cmd.Force,
			RestrictTTL: runs.DefaultRestrictTTL}}
		if err := runs.ContainArg(&req.ContainRequest, cmd.Arg); err != nil {
			return "", err
		}
		return decided(g.runs.Contain(ctx, s, req))
	case "resolve":
		return decided(g.runs.Resolve(ctx, s, runs.ResolveRequest{Run: run, Actor: who.Person,
			ResolveRequest: contract.ResolveRequest{Summary: cmd.Text, Keep: cmd.Keep}}))
	case "approve", "reject":
		return decided(g.runs.Decide(ctx, s, runs.DecisionRequest{Run: run, Name: cmd.Verb, Actor: who.Person,
			Comment: cmd.Text, Action: cmd.Action}))
	}
	return "", fmt.Errorf("%q is not a command the gateway runs", contract.CleanText(cmd.Verb))
}

// started is a start's answer as the CLI prints it: the workflow id.
func started(run runs.Started, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return run.WorkflowID + "\n", nil
}

// decided is a decision's answer as the CLI prints it; a denial is an error with the text.
func decided(ans runs.DecisionAnswer, err error) (string, error) {
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	for _, w := range ans.Warnings {
		fmt.Fprintln(&out, contract.CleanText(w))
	}
	err = reportDecision(&out, ans.WorkflowID, ans.Name, ans)
	return out.String(), err
}

// windowStart is a rotation's window start: in a duration, at a time, or at the next HH:MM UTC,
// to the second.
func (g *gatewayRuns) windowStart(cmd gateway.Command) (time.Time, bool) {
	now := g.now().UTC()
	switch {
	case cmd.In > 0:
		return now.Add(cmd.In).Truncate(time.Second), true
	case !cmd.At.IsZero():
		return cmd.At.UTC().Truncate(time.Second), true
	case cmd.AtClock != "":
		t, err := time.Parse("15:04", cmd.AtClock)
		if err != nil {
			return time.Time{}, false
		}
		at := time.Date(now.Year(), now.Month(), now.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
		if !at.After(now) {
			at = at.Add(24 * time.Hour)
		}
		return at, true
	}
	return time.Time{}, false
}

// Decide sends a button's decision: for the run the button was posted for, under the click's
// Update id.
func (g *gatewayRuns) Decide(ctx context.Context, who gateway.Actor, d gateway.Decision) (string, error) {
	out, err := decided(g.runs.Decide(ctx, g.signer(who), runs.DecisionRequest{
		Run:  runs.Run{WorkflowID: d.Button.WorkflowID, FirstRunID: d.Button.FirstRunID, UpdateID: d.UpdateID},
		Name: d.Name, Actor: who.Person, Comment: d.Comment, Action: d.Button.Action,
	}))
	var outdated *runs.ErrOutdated
	if errors.As(err, &outdated) {
		return outdated.Error(), nil
	}
	return out, err
}

// Freezes lists the running incidents' freezes.
func (g *gatewayRuns) Freezes(ctx context.Context) ([]freeze.Freeze, error) {
	return g.runs.Freezes(ctx)
}

// Alert declares an incident for an alert, or notes a repeat, signed as alert:alertmanager.
func (g *gatewayRuns) Alert(ctx context.Context, al gateway.Alert) (gateway.AlertResult, error) {
	res, err := g.runs.Alert(ctx, runs.Alert{Gateway: g.key, Actor: gateway.AlertActor}, runs.AlertRequest{
		IncidentID: al.IncidentID, Actor: gateway.AlertActor, Targets: al.Targets, Trigger: al.Trigger,
		Severity: al.Severity, Summary: al.Summary, Note: al.Note, Resolved: al.Resolved,
	})
	return gateway.AlertResult{Outcome: res.Outcome, Incident: res.Incident, Text: res.Text}, err
}

// directory is what the gateway server reads of cfg.
func directory(cfg *config.Config) gateway.Directory {
	people := map[string]string{}
	for name, p := range cfg.PeopleByName {
		if p != nil && p.SlackID != "" {
			people[p.SlackID] = name
		}
	}
	return gateway.Directory{Targets: cfg.TargetNames(), AlertDefaultTargets: cfg.Alerts.DefaultTargets, People: people}
}

// reload reads the config again (SIGHUP). A config that does not load, or that no longer lists
// the gateway's key, changes nothing; otherwise the requests from now on are judged by it, and
// the log says what changed.
func (g *gatewayRuns) reload(srv *gateway.Server, logger *slog.Logger) {
	cfg, err := loadWholeConfig(g.path)
	if err == nil && g.key != nil {
		err = checkGatewayKey(cfg, g.key)
	}
	if err != nil {
		logger.Error("config reload failed; the gateway keeps the config it had", "path", g.path, "err", err)
		return
	}
	old := g.cfg.Swap(cfg)
	srv.SetDirectory(directory(cfg))
	logger.Info("config reloaded", append([]any{"path", g.path}, configChanges(old, cfg)...)...)
}

// configChanges are the log attributes that say what changed between two configs.
func configChanges(old, cfg *config.Config) []any {
	var attrs []any
	diff := func(key string, before, after []string) {
		added, removed := listDiff(before, after)
		if len(added) > 0 {
			attrs = append(attrs, key+"_added", strings.Join(added, ","))
		}
		if len(removed) > 0 {
			attrs = append(attrs, key+"_removed", strings.Join(removed, ","))
		}
	}
	diff("people", slices.Sorted(maps.Keys(old.PeopleByName)), slices.Sorted(maps.Keys(cfg.PeopleByName)))
	diff("targets", old.TargetNames(), cfg.TargetNames())
	diff("slack_users", slices.Sorted(maps.Keys(directory(old).People)), slices.Sorted(maps.Keys(directory(cfg).People)))
	oldKeys, _ := old.GatewayKeys()
	newKeys, _ := cfg.GatewayKeys()
	if !slices.Equal(oldKeys, newKeys) {
		attrs = append(attrs, "gateway_keys", fmt.Sprintf("%d -> %d", len(oldKeys), len(newKeys)))
	}
	if len(attrs) == 0 {
		attrs = append(attrs, "changes", "none in people, targets or gateway keys")
	}
	return attrs
}

// listDiff returns what after adds to before and what it removes; both are sorted.
func listDiff(before, after []string) (added, removed []string) {
	for _, s := range after {
		if !slices.Contains(before, s) {
			added = append(added, s)
		}
	}
	for _, s := range before {
		if !slices.Contains(after, s) {
			removed = append(removed, s)
		}
	}
	return added, removed
}
