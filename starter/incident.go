package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
)

// incidentCmd groups runbook 1: declare an incident, then steer it with signed decisions.
func (a *app) incidentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "incident",
		Short: "Declare and steer an auth incident (runbook 1)",
		Long: `incident declares an auth incident and steers it: take ownership, add notes and status updates,
change the severity, ask for containment actions, verify, and resolve with a final summary.
Every decision is signed with your SSH key and sent as a Temporal Update; the run answers at once
whether it accepted or denied it, and a denial exits with status 1.`,
	}
	cmd.AddCommand(a.incidentDeclareCmd(), a.incidentOwnerCmd(), a.incidentNoteCmd(), a.incidentSeverityCmd(),
		a.incidentContainCmd(), a.incidentVerifyCmd(), a.incidentResolveCmd(), a.incidentTargetsCmd())
	return cmd
}

func (a *app) incidentDeclareCmd() *cobra.Command {
	in := contract.IncidentInput{Source: "cli"}
	var id string
	cmd := &cobra.Command{
		Use:   "declare --trigger K --severity S --summary TEXT",
		Short: "Declare an incident and print its id",
		Long: `declare starts an AuthIncident run: it is announced at once, the affected targets are frozen,
snapshotted and health-checked, and the 15-minute clock starts. The reporter owns it until someone
takes it with "starter incident owner". --id names the incident (incident-[a-z0-9-]{1,40}), so that
an alert declaring the same incident twice finds the first one instead of starting another.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := a.declare(cmd.Context(), in, id, cmd.Flags().Changed("reporter"))
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintln(w, id)
			fmt.Fprintf(w, "follow it: starter status %s; starter timeline %s; take it: starter incident owner %s --as YOU\n", id, id, id)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Trigger, "trigger", "", "what set it off: "+strings.Join(contract.IncidentTriggers, ", ")+" (required)")
	f.StringVar(&in.Severity, "severity", "", "one of "+strings.Join(contract.Severities, ", ")+" (required)")
	f.StringVar(&in.Summary, "summary", "", "what is happening (required; signed with the start)")
	f.StringVar(&in.Reporter, "reporter", "", "who declares: a person from the config (default $USER, if that is one); signs the start")
	f.StringArrayVar(&in.Targets, "target", nil, "an affected target (repeatable; default every target in the config)")
	f.StringVar(&id, "id", "", "the incident `ID`, incident-[a-z0-9-]{1,40} (default incident-<short uuid>)")
	f.StringVar(&in.Source, "source", "cli", "where the declaration comes from: "+strings.Join(contract.IncidentSources, ", "))
	_ = cmd.MarkFlagRequired("trigger")
	_ = cmd.MarkFlagRequired("severity")
	_ = cmd.MarkFlagRequired("summary")
	return cmd
}

// declare validates everything it can and signs the start before touching Temporal.
func (a *app) declare(ctx context.Context, in contract.IncidentInput, id string, reporterGiven bool) (string, error) {
	if id != "" {
		if err := contract.CheckIncidentID(id); err != nil {
			return "", err
		}
	} else {
		id = "incident-" + strings.ReplaceAll(uuid.New().String(), "-", "")[:8]
	}
	cfg, err := a.config()
	if err != nil {
		return "", err
	}
	for _, t := range in.Targets {
		if _, err := cfg.Target(t); err != nil {
			return "", fmt.Errorf("--target: %w", err)
		}
	}
	if len(in.Targets) == 0 {
		// A person who names no target declares for every one, as --target says; the run itself
		// takes none for a declaration without targets (an alert's).
		in.Targets = cfg.TargetNames()
	}
	if in.Reporter, err = reporter(cfg, in.Reporter, reporterGiven); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	s, err := a.newSigner(cfg, "--reporter", in.Reporter)
	if err != nil {
		return "", err
	}
	defer s.close()
	if in.Statement, err = s.sign(id, "", contract.ActionStartIncident, in.Summary, in.StartArgs()); err != nil {
		return "", err
	}
	c, err := a.dial()
	if err != nil {
		return "", err
	}
	defer c.Close()
	targets := in.Targets
	if len(targets) == 0 {
		targets = []string{"every target"}
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: contract.TaskQueue,
		StaticSummary: fmt.Sprintf("Auth incident (%s, %s) on %s, declared by %s: %s", in.Trigger, in.Severity,
			strings.Join(targets, ", "), in.Reporter, in.Summary),
		// An id names one incident for good: a second declaration with it (an alert firing again)
		// finds the first, running or closed, and changes nothing.
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(contract.AttrRunbook.ValueSet("auth-incident")),
	}, contract.WorkflowAuthIncident, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return "", fmt.Errorf("incident %s already exists (run %s); nothing was started: follow it with `starter status %s`", id, started.RunId, id)
	}
	if err != nil {
		return "", fmt.Errorf("declare %s: %w", id, err)
	}
	return run.GetID(), nil
}

// reporter is the --reporter person, or $USER when the flag was not given and names a person.
func reporter(cfg *config.Config, name string, given bool) (string, error) {
	if given {
		return name, checkPerson(cfg, "--reporter", name)
	}
	user := os.Getenv("USER")
	if _, ok := cfg.Person(user); ok && user != "" {
		return user, nil
	}
	return "", fmt.Errorf("--reporter is required: $USER (%q) is not a person in the config; people are: %s",
		contract.CleanText(user), peopleList(cfg))
}

// incidentDecision is one signed decision on an incident: checked locally first (check may
// fill in the decision from the run, e.g. the only target), then signed and sent, and the run's
// answer printed.
type incidentDecision struct {
	name string
	d    contract.Decision
	// prepare runs after the signer is found and the client dialed, before the decision is sent:
	// it may query the run and sign a child start.
	prepare func(ctx context.Context, c client.Client, s *signer, d *contract.Decision) error
}

func (a *app) sendIncidentDecision(cmd *cobra.Command, id string, dec incidentDecision) error {
	if err := contract.CheckText("incident id", id); err != nil {
		return err
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	s, err := a.newSigner(cfg, "--as", dec.d.Actor)
	if err != nil {
		return err
	}
	defer s.close()
	c, err := a.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	if dec.prepare != nil {
		if err := dec.prepare(cmd.Context(), c, s, &dec.d); err != nil {
			return err
		}
	}
	ans, err := sendDecision(cmd.Context(), c, s.sign, id, "", dec.name, dec.d)
	if err != nil {
		return err
	}
	return reportDecision(cmd.OutOrStdout(), id, dec.name, ans)
}

// asFlag adds the required --as flag.
func asFlag(cmd *cobra.Command, actor *string) {
	cmd.Flags().StringVar(actor, "as", "", "who you are: a person from the config, in canonical form (required)")
	_ = cmd.MarkFlagRequired("as")
}

func (a *app) incidentOwnerCmd() *cobra.Command {
	var d contract.Decision
	cmd := &cobra.Command{
		Use:   "owner INCIDENT_ID --as PERSON",
		Short: "Take ownership of an incident",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := contract.CheckText("--comment", d.Comment); err != nil {
				return err
			}
			return a.sendIncidentDecision(cmd, args[0], incidentDecision{name: contract.UpdateOwner, d: d})
		},
	}
	asFlag(cmd, &d.Actor)
	cmd.Flags().StringVar(&d.Comment, "comment", "", "a note for the timeline (signed with the decision)")
	return cmd
}

func (a *app) incidentNoteCmd() *cobra.Command {
	var (
		d      contract.Decision
		status bool
	)
	cmd := &cobra.Command{
		Use:   "note INCIDENT_ID --as PERSON [--status] TEXT",
		Short: "Add a note to the incident's timeline; --status makes it a status update",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			d.Comment = args[1]
			if strings.TrimSpace(d.Comment) == "" {
				return errors.New("the note is empty")
			}
			if err := contract.CheckNote(d.Comment); err != nil {
				return fmt.Errorf("note refused, nothing was sent: %w", err)
			}
			if status {
				d.Args = canonical(contract.NoteRequest{Status: true})
			}
			return a.sendIncidentDecision(cmd, args[0], incidentDecision{name: contract.UpdateNote, d: d})
		},
	}
	asFlag(cmd, &d.Actor)
	cmd.Flags().BoolVar(&status, "status", false, "the note is a status update (resets the status-update reminder)")
	return cmd
}

func (a *app) incidentSeverityCmd() *cobra.Command {
	var d contract.Decision
	cmd := &cobra.Command{
		Use:   "severity INCIDENT_ID --as PERSON " + strings.Join(contract.Severities, "|"),
		Short: "Change an incident's severity",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(contract.Severities, args[1]) {
				return fmt.Errorf("severity must be one of %s, got %q", strings.Join(contract.Severities, ", "), contract.CleanText(args[1]))
			}
			d.Comment = args[1]
			return a.sendIncidentDecision(cmd, args[0], incidentDecision{name: contract.UpdateSeverity, d: d})
		},
	}
	asFlag(cmd, &d.Actor)
	return cmd
}

func (a *app) incidentVerifyCmd() *cobra.Command {
	var d contract.Decision
	cmd := &cobra.Command{
		Use:   "verify INCIDENT_ID --as PERSON",
		Short: "Run the verification checklist against the active controls",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := contract.CheckText("--comment", d.Comment); err != nil {
				return err
			}
			return a.sendIncidentDecision(cmd, args[0], incidentDecision{name: contract.UpdateVerify, d: d})
		},
	}
	asFlag(cmd, &d.Actor)
	cmd.Flags().StringVar(&d.Comment, "comment", "", "a note for the timeline (signed with the decision)")
	return cmd
}

func (a *app) incidentResolveCmd() *cobra.Command {
	var (
		d   contract.Decision
		req contract.ResolveRequest
	)
	cmd := &cobra.Command{
		Use:   "resolve INCIDENT_ID --as PERSON --summary TEXT",
		Short: "Resolve an incident: undo temporary measures, lift the freeze and write the report",
		Long: `resolve closes the incident: temporary measures (denied ranges, the raised log level) are undone
unless kept with --keep, the freeze is lifted, and the report is written. The owner resolves; an
approver of an affected target may too, to take over from an absent owner.

Keeping a measure past the incident needs one approver of its target besides you: the resolve
then waits until one runs starter approve INCIDENT_ID --action keep (or rejects it). A kept
measure is owned by you and due to be lifted after --keep-for (default incident.keep_for, 24h);
the report names both.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := req.Validate(); err != nil {
				return fmt.Errorf("resolve refused, nothing was sent: %w", err)
			}
			d.Comment, d.Args = req.Summary, canonical(req)
			return a.sendIncidentDecision(cmd, args[0], incidentDecision{name: contract.DecisionResolve, d: d})
		},
	}
	asFlag(cmd, &d.Actor)
	f := cmd.Flags()
	f.StringVar(&req.Summary, "summary", "", "the final summary (required)")
	f.StringArrayVar(&req.FollowUps, "follow-up", nil, "a follow-up action (repeatable)")
	f.StringArrayVar(&req.Keep, "keep", nil, "a measure kind to leave in force: deny-cidr or log-level (repeatable; needs an approver)")
	f.DurationVar(&req.KeepFor, "keep-for", 0, "how long the kept measures stay, at most 720h (default: incident.keep_for)")
	return cmd
}

func (a *app) incidentContainCmd() *cobra.Command {
	var (
		d        contract.Decision
		req      contract.ContainRequest
		restrict string
	)
	cmd := &cobra.Command{
		Use:   "contain INCIDENT_ID --as PERSON ACTION [ARG]",
		Short: "Ask for a containment action: " + strings.Join(contract.ContainKinds, ", "),
		Long: `contain asks for one containment action. The config says who may ask for each and how many
approvers besides the asker it needs; an action that needs approval waits with an id (a1, a2, ...)
that approvers name: starter approve INCIDENT_ID --action a2 --as PERSON.

  logout-all                    revoke every session
  logout-users U1,U2            revoke the sessions of listed users
  deny-cidr CIDR[,CIDR] [--ttl 2h] [--force]
                                deny source ranges until resolve, or until --ttl
  log-level debug               raise auth logging detail until resolve
  require-reset U1,U2           require a password reset (their sessions are revoked)
  invalidate --reason R [--restrict /a,/b] [--restrict-ttl 30m]
                                start an emergency token invalidation (runbook 3) as a child run
  rotate [--reason R]           start a JWT secret rotation (runbook 2) as a child run

--target names the target; invalidate and rotate need it when the incident affects several.`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Kind = args[1]
			if err := containArgs(&req, args[2:]); err != nil {
				return err
			}
			if cmd.Flags().Changed("restrict") {
				if req.Kind != contract.ContainInvalidate {
					return errors.New("--restrict goes with invalidate")
				}
				routes, err := parseRoutes(restrict)
				if err != nil {
					return err
				}
				req.Restrict = routes
			} else {
				req.RestrictTTL = 0
			}
			if req.TTL != 0 && req.Kind != contract.ContainDenyCIDR {
				return errors.New("--ttl goes with deny-cidr")
			}
			if err := checkContain(req); err != nil {
				return fmt.Errorf("contain refused, nothing was sent: %w", err)
			}
			if req.Target != "" {
				cfg, err := a.config()
				if err != nil {
					return err
				}
				if _, err := cfg.Target(req.Target); err != nil {
					return fmt.Errorf("--target: %w", err)
				}
			}
			d.Comment = req.Reason
			dec := incidentDecision{name: contract.UpdateContain, d: d}
			id := args[0]
			if req.Kind == contract.ContainInvalidate || req.Kind == contract.ContainRotate {
				dec.prepare = func(ctx context.Context, c client.Client, s *signer, d *contract.Decision) error {
					return prepareChildStart(ctx, c, s, id, req, d)
				}
			} else {
				dec.d.Args = canonical(req)
			}
			return a.sendIncidentDecision(cmd, id, dec)
		},
	}
	asFlag(cmd, &d.Actor)
	f := cmd.Flags()
	f.StringVar(&req.Target, "target", "", "the target (default: every affected target; invalidate and rotate: the only one)")
	f.DurationVar(&req.TTL, "ttl", 0, "deny-cidr: lift the range on its own after this long (default: at resolve)")
	f.BoolVar(&req.Force, "force", false, "deny-cidr: allow a range that locks everyone out or holds the worker's probe address")
	f.StringVar(&restrict, "restrict", "", "invalidate: comma-separated route prefixes to close meanwhile, e.g. /admin,/billing")
	f.DurationVar(&req.RestrictTTL, "restrict-ttl", 30*time.Minute, "invalidate: how long routes stay restricted")
	f.StringVar(&req.Reason, "reason", "", "why (required for invalidate; signed with the decision and the child's start)")
	return cmd
}

// containArgs reads the action's one argument into the request.
func containArgs(req *contract.ContainRequest, rest []string) error {
	arg := ""
	if len(rest) > 0 {
		arg = rest[0]
	}
	list := func() ([]string, error) {
		if arg == "" {
			return nil, nil
		}
		var out []string
		for _, p := range strings.Split(arg, ",") {
			if p = strings.TrimSpace(p); p == "" {
				return nil, fmt.Errorf("%s %q is malformed: empty item in the list", req.Kind, contract.CleanText(arg))
			}
			out = append(out, p)
		}
		return out, nil
	}
	var err error
	switch req.Kind {
	case contract.ContainLogoutUsers, contract.ContainRequireReset:
		req.Users, err = list()
	case contract.ContainDenyCIDR:
		req.CIDRs, err = list()
	case contract.ContainLogLevel:
		req.Level = arg
	default:
		if arg != "" && slices.Contains(contract.ContainKinds, req.Kind) {
			return fmt.Errorf("%s takes no argument, got %q", req.Kind, contract.CleanText(arg))
		}
	}
	return err
}

// checkContain refuses locally what the run would refuse: a malformed request, a bad or
// too-broad range, an invalidation without a reason.
func checkContain(req contract.ContainRequest) error {
	if err := req.Validate(); err != nil {
		return err
	}
	var errs []error
	if len(req.CIDRs) > 0 {
		// The run judges them again with the ranges already in force, which only it knows.
		errs = append(errs, contract.CheckDenyRanges(nil, req.CIDRs, req.Force, nil))
	}
	if req.Kind == contract.ContainInvalidate && strings.TrimSpace(req.Reason) == "" {
		errs = append(errs, errors.New("invalidate needs --reason: it is the emergency run's reason, signed with its start"))
	}
	if req.RestrictTTL < 0 {
		errs = append(errs, errors.New("--restrict-ttl must not be negative"))
	}
	return errors.Join(errs...)
}

// prepareChildStart picks the target of an invalidate or rotate (the incident's only one when
// --target is not given) and signs the child run's start, which goes with the decision. The
// start binds the child's input as the incident will build it (its trigger comes from the run).
func prepareChildStart(ctx context.Context, c queryClient, s *signer, id string, req contract.ContainRequest, d *contract.Decision) error {
	var st contract.IncidentStatus
	if req.Target == "" || req.Kind == contract.ContainInvalidate {
		if err := queryRun(ctx, c, id, contract.QueryIncident, &st); err != nil {
			return err
		}
	}
	if req.Target == "" {
		if len(st.Targets) != 1 {
			return fmt.Errorf("--target is required for %s: %s affects %s; nothing was sent", req.Kind, id,
				contract.CleanText(strings.Join(st.Targets, ", ")))
		}
		req.Target = st.Targets[0]
	}
	childID, action := contract.InvalidationID(req.Target), contract.ActionStartInvalidation
	args := contract.IncidentInvalidation(id, st.Trigger, s.actor, req).StartArgs()
	if req.Kind == contract.ContainRotate {
		childID, action = contract.RotationID(req.Target), contract.ActionStartRotation
		args = contract.IncidentRotation(id, s.actor, req).StartArgs()
	}
	start, err := s.sign(childID, "", action, req.Reason, args)
	if err != nil {
		return err
	}
	d.Start, d.Args = start, canonical(req)
	return nil
}

// queryRun queries a run, saying plainly when there is no run with the id.
func queryRun(ctx context.Context, c queryClient, id, name string, out any) error {
	err := query(ctx, c, id, name, out)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("no run with id %s; nothing was sent", contract.CleanText(id))
	}
	return err
}

// canonical is a decision's Args: the JSON of its request. The types marshalled here cannot fail.
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err))
	}
	return string(b)
}

// writeIncidentStatus prints an incident's state: who owns it, how bad, what it froze, the
// actions waiting for approval, the measures in force and the runs it started.
func writeIncidentStatus(w io.Writer, id, runID string, st contract.IncidentStatus) error {
	clean := contract.CleanText
	join := func(items []string) string {
		if len(items) == 0 {
			return "none"
		}
		out := make([]string, len(items))
		for i, s := range items {
			out[i] = clean(s)
		}
		return strings.Join(out, ", ")
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	fmt.Fprintf(w, "%s  auth-incident  severity=%s  trigger=%s", clean(id), clean(st.Severity), clean(st.Trigger))
	if st.Outcome != "" {
		fmt.Fprintf(w, "  outcome=%s", clean(st.Outcome))
	}
	fmt.Fprintln(w)
	if runID != "" {
		fmt.Fprintf(w, "run %s\n", clean(runID))
	}
	fmt.Fprintf(w, "declared %s by %s (%s): %s\n", ts(st.DeclaredAt), clean(st.Reporter), clean(st.Source), clean(st.Summary))
	if st.Phase != "" {
		fmt.Fprintf(w, "phase: %s\n", clean(st.Phase))
	}
	fmt.Fprintf(w, "owner: %s\n", orDefault(clean(st.Owner), "none"))
	fmt.Fprintf(w, "targets: %s\n", join(st.Targets))
	fmt.Fprintf(w, "frozen: %s\n", join(st.Frozen))
	if c := st.Channel; c != nil {
		fmt.Fprintf(w, "slack channel: #%s (%s), invited %s", clean(c.Name), clean(c.ID), join(c.Invited))
		if len(c.Skipped) > 0 {
			fmt.Fprintf(w, "; not invited: %s", join(c.Skipped))
		}
		fmt.Fprintln(w)
	}
	if st.LastStatusUpdate.IsZero() {
		fmt.Fprintln(w, "last status update: none")
	} else {
		fmt.Fprintf(w, "last status update: %s\n", ts(st.LastStatusUpdate))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(st.Checklist) > 0 {
		fmt.Fprintln(tw, "checklist:")
		for _, s := range st.Checklist {
			at := ""
			if !s.At.IsZero() {
				at = ts(s.At)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", clean(s.Name), clean(s.State), at)
		}
	}
	if len(st.Pending) > 0 {
		fmt.Fprintln(tw, "actions:")
		for _, p := range st.Pending {
			approvals := fmt.Sprintf("approvals %d of %d", len(p.Approvals), p.Quorum)
			if len(p.Approvals) > 0 {
				approvals += ": " + join(p.Approvals)
			}
			line := fmt.Sprintf("  %s\t%s\t%s\tasked by %s at %s\t%s", clean(p.ID), p.Request.Describe(), clean(p.State),
				clean(p.Asker), ts(p.AskedAt), approvals)
			if p.Detail != "" {
				line += "\t" + clean(p.Detail)
			}
			fmt.Fprintln(tw, line)
		}
	}
	if k := st.Keeping; k != nil {
		fmt.Fprintf(tw, "resolve by %s keeping %s until %s:\t%s\t%s\n", clean(k.By), join(k.Measures), ts(k.Until), clean(k.State), clean(k.Detail))
	}
	if len(st.Measures) > 0 {
		fmt.Fprintln(tw, "measures:")
		for _, m := range st.Measures {
			state := "in force"
			switch {
			case !m.Undone.IsZero():
				state = "undone " + ts(m.Undone)
			case m.Kept && !m.KeptUntil.IsZero():
				state = fmt.Sprintf("kept until %s, owned by %s, approved by %s", ts(m.KeptUntil), clean(m.KeptBy), clean(m.KeptApprovedBy))
			case m.Kept:
				state = "kept"
			case !m.Expires.IsZero():
				state = "in force until " + ts(m.Expires)
			}
			fmt.Fprintf(tw, "  %s\t%s on %s\tby %s at %s\t%s\n", clean(m.ActionID), m.Request.Describe(), clean(m.Target),
				clean(m.By), ts(m.At), state)
		}
	}
	if len(st.Children) > 0 {
		fmt.Fprintln(tw, "runs:")
		for _, ch := range st.Children {
			how := "started"
			if ch.Linked {
				how = "linked"
			}
			outcome := orDefault(clean(ch.Outcome), "running")
			if ch.Summary != "" {
				outcome += ": " + clean(ch.Summary)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s on %s\t%s\t%s\n", clean(ch.ActionID), clean(ch.WorkflowID), clean(ch.Runbook),
				clean(ch.Target), how, outcome)
		}
	}
	for _, s := range st.Snapshots {
		fmt.Fprintf(tw, "snapshot of %s at %s:\t%s\tsha256 %s\n", clean(s.Target), ts(s.At), clean(s.Artifact.Path), clean(s.Artifact.Digest))
	}
	return tw.Flush()
}

// incidentStatus prints an incident's status (the QueryIncident answer).
func incidentStatus(ctx context.Context, c queryClient, w io.Writer, id, runID string, asJSON bool) error {
	var st contract.IncidentStatus
	if err := query(ctx, c, id, contract.QueryIncident, &st); err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, st)
	}
	return writeIncidentStatus(w, id, runID, st)
}
