package contract

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
)

// WorkflowAuthIncident is runbook 1's workflow type.
const WorkflowAuthIncident = "AuthIncident"

// ActionStartIncident is the action of an incident's signed start.
const ActionStartIncident = "start:auth-incident"

// Incident decisions (Updates). approve, reject, resolve and cancel keep their shared names;
// approve and reject name the pending action in Args ({"action":"a2"}).
const (
	UpdateOwner    = "owner"
	UpdateNote     = "note"
	UpdateSeverity = "severity"
	UpdateContain  = "contain"
	UpdateVerify   = "verify"
	// UpdateChildClosed is how a child run (an emergency invalidation or a rotation the incident
	// started) reports its outcome to the incident, addressed by workflow id, so that the report
	// survives the incident's continue-as-new.
	UpdateChildClosed = "child-closed"
	// QueryIncident answers IncidentStatus; QueryFrozen the targets the incident freezes.
	QueryIncident = "incident"
	QueryFrozen   = "frozen"
)

// AttrFrozenTargets lists the targets a running incident freezes. Rotations, the starter's
// `freeze status` and the gateway's /freeze read it from Temporal's visibility store.
var AttrFrozenTargets = temporal.NewSearchAttributeKeyKeywordList("AuthopsFrozenTargets")

// Triggers of runbook 1.
var IncidentTriggers = []string{"credential-stuffing", "unusual-login", "auth-error-spike", "impersonation", "other"}

// Severities, lowest first.
var Severities = []string{"low", "medium", "high", "critical"}

// IncidentSources are where a declaration may come from.
var IncidentSources = []string{"cli", "slack", "alert"}

// Containment kinds.
const (
	ContainLogoutAll    = "logout-all"
	ContainLogoutUsers  = "logout-users"
	ContainDenyCIDR     = "deny-cidr"
	ContainLogLevel     = "log-level"
	ContainRequireReset = "require-reset"
	ContainInvalidate   = "invalidate"
	ContainRotate       = "rotate"
)

// ContainKinds lists every containment action.
var ContainKinds = []string{ContainLogoutAll, ContainLogoutUsers, ContainDenyCIDR, ContainLogLevel,
	ContainRequireReset, ContainInvalidate, ContainRotate}

// Incident outcomes.
const (
	OutcomeResolved = "resolved"
)

// Incident checklist steps, in order (the runbook's first 15 minutes, then verify and resolve).
const (
	StepDeclare  = "declare and assign an owner"
	StepFreeze   = "freeze auth-related deployments and config changes"
	StepSnapshot = "snapshot environment and auth settings"
	StepConfirm  = "confirm auth endpoints are reachable and healthy"
	StepTimeline = "keep the UTC timeline"
	StepContain  = "contain"
	StepVerify   = "verify"
	StepResolve  = "resolve and report"
)

// IncidentFirstSteps are the steps the 15-minute clock waits for.
var IncidentFirstSteps = []string{StepDeclare, StepFreeze, StepSnapshot, StepConfirm}

var incidentIDPattern = regexp.MustCompile(`^incident-[a-z0-9-]{1,40}$`)

// CheckIncidentID refuses an id that is not incident-[a-z0-9-]{1,40}, so that an incident can
// never take the id of another runbook's run.
func CheckIncidentID(id string) error {
	if !incidentIDPattern.MatchString(id) {
		return fmt.Errorf("incident id %q must match incident-[a-z0-9-]{1,40}", CleanText(id))
	}
	return nil
}

// IncidentInput starts an AuthIncident.
type IncidentInput struct {
	Trigger  string `json:"trigger"`
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Reporter string `json:"reporter"`
	Source   string `json:"source"`
	// Targets are the affected targets; empty means every target in the config.
	Targets []string `json:"targets,omitempty"`
	// Statement is the reporter's signed start: action ActionStartIncident, comment the summary.
	Statement *SignedStatement `json:"statement,omitempty"`
	// State is the incident carried across continue-as-new; nil at declaration.
	State *IncidentState `json:"state,omitempty"`
}

// Validate checks a declaration; the starter and the workflow both call it.
func (in IncidentInput) Validate() error {
	var errs []error
	if !slices.Contains(IncidentTriggers, in.Trigger) {
		errs = append(errs, fmt.Errorf("trigger must be one of %s, got %q", strings.Join(IncidentTriggers, ", "), CleanText(in.Trigger)))
	}
	if !slices.Contains(Severities, in.Severity) {
		errs = append(errs, fmt.Errorf("severity must be one of %s, got %q", strings.Join(Severities, ", "), CleanText(in.Severity)))
	}
	if !slices.Contains(IncidentSources, in.Source) {
		errs = append(errs, fmt.Errorf("source must be one of %s, got %q", strings.Join(IncidentSources, ", "), CleanText(in.Source)))
	}
	if strings.TrimSpace(in.Summary) == "" {
		errs = append(errs, errors.New("summary is required"))
	}
	if strings.TrimSpace(in.Reporter) == "" {
		errs = append(errs, errors.New("reporter is required"))
	}
	errs = append(errs, CheckText("summary", in.Summary), CheckText("reporter", in.Reporter), CheckNote(in.Summary))
	for _, t := range in.Targets {
		errs = append(errs, CheckText("target", t))
	}
	return errors.Join(errs...)
}

// MaxNote is the longest note (and summary) an incident takes.
const MaxNote = 4 << 10

// CheckNote refuses a note over MaxNote bytes or with control characters.
func CheckNote(s string) error {
	if len(s) > MaxNote {
		return fmt.Errorf("text is %d bytes; the limit is %d (4 KiB)", len(s), MaxNote)
	}
	return CheckText("text", s)
}

// ContainRequest is one containment action, asked for by the owner (Decision.Args of a contain).
type ContainRequest struct {
	Kind string `json:"kind"`
	// Target is required for invalidate and rotate when the incident affects several targets;
	// the other kinds apply to every affected target when it is empty.
	Target string   `json:"target,omitempty"`
	Users  []string `json:"users,omitempty"`
	CIDRs  []string `json:"cidrs,omitempty"`
	// TTL lifts a denied range on its own; zero keeps it until resolve.
	TTL   time.Duration `json:"ttl,omitempty"`
	Level string        `json:"level,omitempty"`
	// Force lets a range through that would lock out everyone or the worker's own probes.
	Force bool `json:"force,omitempty"`
	// Restrict are route prefixes an invalidation closes meanwhile, for RestrictTTL.
	Restrict    []string      `json:"restrict,omitempty"`
	RestrictTTL time.Duration `json:"restrict_ttl,omitempty"`
	Reason      string        `json:"reason,omitempty"`
}

// LogLevels the control API takes.
var LogLevels = []string{"debug", "info", "warn", "error"}

var userPattern = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,64}$`)

// Validate checks a request's shape; whether its target and users exist is the run's to judge.
func (r ContainRequest) Validate() error {
	var errs []error
	need := func(ok bool, msg string) {
		if !ok {
			errs = append(errs, errors.New(msg))
		}
	}
	switch r.Kind {
	case ContainLogoutAll:
	case ContainLogoutUsers, ContainRequireReset:
		need(len(r.Users) > 0, r.Kind+" needs at least one user")
		for _, u := range r.Users {
			need(userPattern.MatchString(u), fmt.Sprintf("user %q is not a user name", CleanText(u)))
		}
	case ContainDenyCIDR:
		need(len(r.CIDRs) > 0, "deny-cidr needs at least one CIDR")
		need(r.TTL >= 0, "ttl must not be negative")
	case ContainLogLevel:
		need(slices.Contains(LogLevels, r.Level), fmt.Sprintf("log level must be one of %s, got %q", strings.Join(LogLevels, ", "), CleanText(r.Level)))
	case ContainInvalidate, ContainRotate:
		if len(r.Restrict) > 0 {
			if err := ValidatePrefixes(r.Restrict); err != nil {
				errs = append(errs, fmt.Errorf("restrict: %w", err))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("unknown action %q (known: %s)", CleanText(r.Kind), strings.Join(ContainKinds, ", ")))
	}
	errs = append(errs, CheckText("reason", r.Reason), CheckText("target", r.Target))
	return errors.Join(errs...)
}

// Undoable reports whether a measure of this kind is temporary and undone at resolve.
func (r ContainRequest) Undoable() bool {
	return r.Kind == ContainDenyCIDR || r.Kind == ContainLogLevel
}

// Describe says what the request does, for the timeline.
func (r ContainRequest) Describe() string {
	s := r.Kind
	switch r.Kind {
	case ContainLogoutUsers, ContainRequireReset:
		s += " " + strings.Join(r.Users, ",")
	case ContainDenyCIDR:
		s += " " + strings.Join(r.CIDRs, ",")
		if r.TTL > 0 {
			s += " for " + r.TTL.String()
		}
	case ContainLogLevel:
		s += " " + r.Level
	}
	if r.Target != "" {
		s += " on " + r.Target
	}
	return CleanText(s)
}

// broadRanges lock out everyone (or every IPv4 client, through the mapped range).
var broadRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0"), netip.MustParsePrefix("::ffff:0:0/96"),
}

// CheckDenyCIDR refuses a CIDR that is invalid, has host bits set, or, without force, covers a
// lock-out range or one of the addresses the worker's probes come from. It judges one range as
// written: runs from before the deny-ranges-normalised version replay with it; everything else
// uses NormalizeCIDR and CheckDenyRanges (deny.go).
func CheckDenyCIDR(cidr string, force bool, probeFrom []string) error {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return fmt.Errorf("invalid CIDR %q", CleanText(cidr))
	}
	if p.Masked() != p {
		return fmt.Errorf("CIDR %s has host bits set; did you mean %s?", cidr, p.Masked())
	}
	if force {
		return nil
	}
	for _, b := range broadRanges {
		if p.Bits() <= b.Bits() && p.Overlaps(b) {
			return fmt.Errorf("CIDR %s would lock everyone out (it covers %s); add --force if you mean it", cidr, b)
		}
	}
	for _, a := range probeFrom {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			continue
		}
		// Either form of the address: 127.0.0.1 and ::ffff:127.0.0.1 are the same client.
		if p.Contains(ip.Unmap()) || p.Contains(netip.AddrFrom16(ip.Unmap().As16())) {
			return fmt.Errorf("CIDR %s holds %s, the address the worker's probes come from; add --force if you mean it", cidr, a)
		}
	}
	return nil
}

// ActionRule is who may ask for a containment action and how many approvers, besides the
// asker, it needs. Who holds "owner", "approvers" or people's names.
type ActionRule struct {
	Who    []string `json:"who"`
	Quorum int      `json:"quorum"`
}

// IncidentPolicy is the part of the config an incident needs: no secrets in it.
type IncidentPolicy struct {
	// Targets are every configured target; Approvers the union of their approvers.
	Targets   []string `json:"targets"`
	Approvers []string `json:"approvers"`
	// TargetApprovers are each target's own approvers: a gate counts only those of the targets
	// its measure acts on. Nil in runs declared before it (then every target has Approvers).
	TargetApprovers map[string][]string `json:"target_approvers,omitempty"`
	// Owners may take an incident besides the approvers of an affected target (incident.owners).
	Owners []string `json:"owners,omitempty"`
	// ResetWithoutQuorum is how many accounts a require-reset may name without a second person
	// (incident.reset_without_quorum); AdminAccounts are the accounts a reset of always needs one.
	ResetWithoutQuorum int      `json:"reset_without_quorum"`
	AdminAccounts      []string `json:"admin_accounts,omitempty"`
	// DenyWithoutQuorum is the widest range a deny-cidr may name without a second person
	// (incident.deny_without_quorum); zero fields are the defaults.
	DenyWithoutQuorum DenyWidth `json:"deny_without_quorum"`
	// KeepFor is how long a measure kept past resolve stays by default (incident.keep_for).
	KeepFor time.Duration `json:"keep_for,omitempty"`
	Channel string        `json:"channel"`
	// DedicatedChannel has a declaration open #inc-<id> for the incident's messages, with a
	// link from Channel (config incident.dedicated_channel).
	DedicatedChannel bool     `json:"dedicated_channel,omitempty"`
	People           []Person `json:"people,omitempty"`
	GatewayKeys      []string `json:"gateway_keys,omitempty"`
	// OwnerAck is how long the run waits for someone to take ownership before it escalates;
	// FirstSteps is the runbook's 15-minute clock.
	OwnerAck   time.Duration `json:"owner_ack"`
	FirstSteps time.Duration `json:"first_steps"`
	// StatusEvery is the status-update cadence by severity.
	StatusEvery map[string]time.Duration `json:"status_every"`
	Actions     map[string]ActionRule    `json:"actions"`
	// HistoryLimit is the history length (events) past which the run continues as new.
	HistoryLimit int `json:"history_limit"`
	// Timeouts bound the run's activities (zero fields: the defaults).
	Timeouts Timeouts `json:"timeouts,omitempty"`
}

// DenyWidth is a prefix length per address family: a range wider (shorter) than it needs a
// second person.
type DenyWidth struct {
	IPv4 int `json:"ipv4"`
	IPv6 int `json:"ipv6"`
}

// Defaults of the second-person rules (config incident.*).
const (
	DefaultResetWithoutQuorum = 5
	DefaultDenyWithoutQuorum4 = 16
	DefaultDenyWithoutQuorum6 = 48
	DefaultKeepFor            = 24 * time.Hour
	// MaxKeepFor bounds how long a measure may be kept past its incident.
	MaxKeepFor = 30 * 24 * time.Hour
)

// KeepAction is the action id that approves or rejects a resolve that keeps measures
// (starter approve ID --action keep).
const KeepAction = "keep"

// PendingAction is a containment action waiting for approval, or decided.
type PendingAction struct {
	ID        string         `json:"id"`
	Request   ContainRequest `json:"request"`
	Asker     string         `json:"asker"`
	AskedAt   time.Time      `json:"asked_at"`
	Quorum    int            `json:"quorum"`
	Approvals []string       `json:"approvals,omitempty"`
	// Approvers are who may approve it: the approvers of every target it acts on (empty in
	// runs from before; then the policy's Approvers). Why says why it needs a second person
	// when the config asked for none.
	Approvers []string `json:"approvers,omitempty"`
	Why       string   `json:"why,omitempty"`
	// State is pending, approved, rejected, applied or failed.
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// Measure is a containment measure in force (or undone at resolve).
type Measure struct {
	ActionID string         `json:"action_id"`
	Request  ContainRequest `json:"request"`
	Target   string         `json:"target"`
	By       string         `json:"by"`
	At       time.Time      `json:"at"`
	// Previous is what an undo restores (the log level before).
	Previous string `json:"previous,omitempty"`
	// Expires is when a TTL lifts a denied range on its own.
	Expires time.Time `json:"expires,omitempty"`
	// Undone says when it was undone; Kept that resolve kept it on purpose.
	Undone time.Time `json:"undone,omitempty"`
	Kept   bool      `json:"kept,omitempty"`
	// KeptBy owns a kept measure past the incident (who resolved), KeptApprovedBy is the second
	// person who agreed, and KeptUntil is when it is due to be lifted.
	KeptBy         string    `json:"kept_by,omitempty"`
	KeptApprovedBy string    `json:"kept_approved_by,omitempty"`
	KeptUntil      time.Time `json:"kept_until,omitempty"`
}

// PendingKeep is a resolve that keeps measures past the incident, waiting for an approver of
// their targets besides the one who asked.
type PendingKeep struct {
	By        string         `json:"by"`
	AskedAt   time.Time      `json:"asked_at"`
	Request   ResolveRequest `json:"request"`
	Measures  []string       `json:"measures"`
	Until     time.Time      `json:"until"`
	Approvers []string       `json:"approvers"`
	// State is pending, approved or rejected; Detail the gate's progress or who rejected.
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// Digest names what a keep approval agrees to: who resolves, the measures kept, until when, and
// the resolve itself. An approval of the keep action carries it, so it cannot apply to another.
func (k PendingKeep) Digest() string {
	return digestJSON(struct {
		By       string         `json:"by"`
		Measures []string       `json:"measures"`
		Until    time.Time      `json:"until"`
		Request  ResolveRequest `json:"request"`
	}{k.By, k.Measures, k.Until.UTC(), k.Request})
}

// ChildRun is a runbook run the incident started or linked.
type ChildRun struct {
	ActionID   string `json:"action_id"`
	WorkflowID string `json:"workflow_id"`
	Runbook    string `json:"runbook"`
	Target     string `json:"target"`
	// Linked is true when the run was already running and was linked, not started.
	Linked  bool   `json:"linked,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	Summary string `json:"summary,omitempty"`
}

// ChildClosed is what a child run reports to its incident when it closes.
type ChildClosed struct {
	WorkflowID string `json:"workflow_id"`
	Outcome    string `json:"outcome"`
	Summary    string `json:"summary"`
}

// RunOutcome is the part of every runbook's result that says how it ended.
type RunOutcome struct {
	Outcome string `json:"outcome"`
	Summary string `json:"summary"`
}

// ClosedFrom says how a run ended, from its result (when err is nil) or its error: a failed
// runbook's error carries its result, a canceled run is canceled, anything else failed.
func ClosedFrom(workflowID string, res RunOutcome, err error) ChildClosed {
	var appErr *temporal.ApplicationError
	var canceled *temporal.CanceledError
	switch {
	case err == nil:
	case errors.As(err, &appErr) && appErr.HasDetails() && appErr.Details(&res) == nil:
	case errors.As(err, &canceled):
		res = RunOutcome{Outcome: OutcomeCanceled, Summary: canceled.Error()}
	default:
		res = RunOutcome{Outcome: "failed", Summary: err.Error()}
	}
	return ChildClosed{WorkflowID: workflowID, Outcome: res.Outcome, Summary: res.Summary}
}

// ResolveRequest is Decision.Args of an incident's resolve.
type ResolveRequest struct {
	Summary   string   `json:"summary"`
	FollowUps []string `json:"follow_ups,omitempty"`
	// Keep names measure kinds left in force (deny-cidr, log-level); it needs an approver
	// besides the one who resolves. KeepFor is how long they stay (zero: incident.keep_for).
	Keep    []string      `json:"keep,omitempty"`
	KeepFor time.Duration `json:"keep_for,omitempty"`
}

// Validate checks a resolve request.
func (r ResolveRequest) Validate() error {
	var errs []error
	if strings.TrimSpace(r.Summary) == "" {
		errs = append(errs, errors.New("resolve needs a final summary (--summary)"))
	}
	errs = append(errs, CheckNote(r.Summary))
	for _, f := range r.FollowUps {
		errs = append(errs, CheckNote(f))
	}
	switch {
	case r.KeepFor < 0:
		errs = append(errs, errors.New("--keep-for must not be negative"))
	case r.KeepFor > MaxKeepFor:
		errs = append(errs, fmt.Errorf("--keep-for is at most %s (30 days), got %s", MaxKeepFor, r.KeepFor))
	case r.KeepFor > 0 && len(r.Keep) == 0:
		errs = append(errs, errors.New("--keep-for needs --keep: it says how long the kept measures stay"))
	}
	for _, k := range r.Keep {
		switch k {
		case ContainDenyCIDR, ContainLogLevel:
		case "freeze":
			// The freeze lives on the running incident; kept past its close it would have no owner.
			errs = append(errs, errors.New("the freeze always lifts at resolve: it lives on the running incident; keep it by keeping the incident open"))
		default:
			errs = append(errs, fmt.Errorf("--keep takes deny-cidr or log-level, not %q", CleanText(k)))
		}
	}
	return errors.Join(errs...)
}

// NoteRequest is Decision.Args of a status note (a plain note has no Args).
type NoteRequest struct {
	Status bool `json:"status,omitempty"`
}

// ActionRef is Decision.Args of an approve or reject that names a pending action.
type ActionRef struct {
	Action string `json:"action"`
	// Digest is the named action's ContainRequest.Digest as the approver read it from the run:
	// an approval is bound to that content.
	Digest string `json:"digest,omitempty"`
}

// IncidentStatus answers QueryIncident.
type IncidentStatus struct {
	ID         string    `json:"id"`
	Trigger    string    `json:"trigger"`
	Severity   string    `json:"severity"`
	Summary    string    `json:"summary"`
	Reporter   string    `json:"reporter"`
	Source     string    `json:"source"`
	Owner      string    `json:"owner"`
	Targets    []string  `json:"targets"`
	Frozen     []string  `json:"frozen"`
	DeclaredAt time.Time `json:"declared_at"`
	// LastStatusUpdate is when the last status update (a note sent with --status) came.
	LastStatusUpdate time.Time       `json:"last_status_update,omitempty"`
	Pending          []PendingAction `json:"actions,omitempty"`
	// Keeping is a resolve that keeps measures, waiting for its approval.
	Keeping   *PendingKeep `json:"keeping,omitempty"`
	Measures  []Measure    `json:"measures,omitempty"`
	Children  []ChildRun   `json:"children,omitempty"`
	Snapshots []Snapshot   `json:"snapshots,omitempty"`
	Outcome   string       `json:"outcome,omitempty"`
	// Channel is the incident's dedicated Slack channel, once created (nil: its messages go to
	// the target's channel).
	Channel *IncidentChannel `json:"channel,omitempty"`
	// Phase and Checklist are the run's, as the status query shows them for every runbook.
	Phase     string `json:"phase,omitempty"`
	Checklist []Step `json:"checklist,omitempty"`
}

// IncidentChannel is an incident's dedicated Slack channel (incident.dedicated_channel).
type IncidentChannel struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	// Invited are the people invited to it; Skipped those who were not, each with why (no
	// slack_id in people:, or Slack's refusal).
	Invited []string `json:"invited,omitempty"`
	Skipped []string `json:"skipped,omitempty"`
	// LinkedFrom is the channel that got the link to it.
	LinkedFrom string `json:"linked_from,omitempty"`
}

// IncidentChannelName is the name of an incident's dedicated channel: inc-<id>. Incident ids
// (incident-[a-z0-9-]{1,40}) are valid Slack channel names as they are.
func IncidentChannelName(id string) string { return "inc-" + id }

// Snapshot is a target's environment and auth settings at declaration, with every value
// replaced by its fingerprint.
type Snapshot struct {
	Target string    `json:"target"`
	At     time.Time `json:"at"`
	// Config maps each config key to its value's fingerprint.
	Config  map[string]string `json:"config"`
	Secret  VersionRef        `json:"secret"`
	Healthz string            `json:"healthz"`
	// Controls is the backend's control state as it reported it (no secrets in it).
	Controls ControlState      `json:"controls"`
	Deploy   map[string]string `json:"deploy"`
	// ProbeFrom are the local addresses the worker's probes reach the target from.
	ProbeFrom []string `json:"probe_from"`
	// Artifact is where the snapshot was written, and its SHA-256.
	Artifact ArtifactRef `json:"artifact"`
}

// ControlState is the backend's control state.
type ControlState struct {
	ActiveSessions     int       `json:"active_sessions"`
	RevokedSessions    int       `json:"revoked_sessions"`
	RevokedBefore      time.Time `json:"revoked_before,omitempty"`
	PasswordResetUsers []string  `json:"password_reset_users"`
	LogLevel           string    `json:"log_level"`
	RestrictedRoutes   []string  `json:"restricted_routes"`
	DeniedCIDRs        []string  `json:"denied_cidrs"`
}

// ArtifactRef is a file the runbook wrote, named by path and SHA-256.
type ArtifactRef struct {
	Path   string `json:"path"`
	Digest string `json:"digest"`
	// Events counts the timeline events in an archived part.
	Events int `json:"events,omitempty"`
}

// IncidentState is what an incident carries across continue-as-new.
type IncidentState struct {
	Status    IncidentStatus `json:"status"`
	Checklist []Step         `json:"checklist"`
	Timeline  []Event        `json:"timeline"`
	// Archived are older timeline parts written to the artifacts directory.
	Archived []ArtifactRef `json:"archived,omitempty"`
	// Nonces are the statement nonces seen, so a decision cannot be replayed into the new run.
	Nonces    map[string]time.Time `json:"nonces"`
	NextID    int                  `json:"next_id"`
	Escalated []string             `json:"escalated,omitempty"`
	Validated []Validation         `json:"validations,omitempty"`
	// LastReminder is when the owner was last reminded of a status update.
	LastReminder time.Time `json:"last_reminder,omitempty"`
	// Actions are who did what in the archived timeline parts, for the report.
	Actions []ReportAction `json:"actions,omitempty"`
}

// Report is the artifact of a run, for every runbook: the post-incident document's content.
type Report struct {
	WorkflowID string   `json:"workflow_id"`
	Runbook    string   `json:"runbook"`
	Targets    []string `json:"targets"`
	Outcome    string   `json:"outcome"`
	Summary    string   `json:"summary"`
	FollowUps  []string `json:"follow_ups,omitempty"`
	// Actions lists who did each action: the accepted decisions and the measures applied.
	Actions       []ReportAction `json:"actions"`
	ConfigChanges []ConfigChange `json:"config_changes"`
	Validations   []Validation   `json:"validations"`
	Timeline      []Event        `json:"timeline"`
	// Archived are the timeline parts the run archived; a report made from them has them back
	// in Timeline.
	Archived  []ArtifactRef `json:"archived,omitempty"`
	Artifacts []ArtifactRef `json:"artifacts,omitempty"`
	// Kept are the measures left in force past the run, each with its owner and expiry.
	Kept []KeptMeasure `json:"kept,omitempty"`
}

// KeptMeasure is a measure an incident left in force when it resolved.
type KeptMeasure struct {
	ActionID   string    `json:"action_id"`
	Item       string    `json:"item"`
	Target     string    `json:"target"`
	Owner      string    `json:"owner"`
	ApprovedBy string    `json:"approved_by"`
	Until      time.Time `json:"until"`
}

// ReportAction is one thing someone did, with when.
type ReportAction struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Detail string    `json:"detail,omitempty"`
}

// IncidentResult is the incident's result: its report.
type IncidentResult = Report
