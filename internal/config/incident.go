package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/authops/authops/contract"
)

// IncidentConfig tunes runbook 1, the auth incident response. Every key has a default, so the
// section may be left out.
type IncidentConfig struct {
	// OwnerAck is how long an incident waits for someone to take ownership before it escalates.
	OwnerAck Duration `yaml:"owner_ack"`
	// FirstSteps is the runbook's 15-minute clock: declare, freeze, snapshot and confirm.
	FirstSteps Duration `yaml:"first_steps"`
	// StatusEvery is the status-update cadence by severity; a severity left out keeps its default.
	StatusEvery map[string]Duration `yaml:"status_every"`
	// ArtifactsDir is where snapshots, archived timeline parts and reports are written, relative
	// to the config file's directory. Use Config.ArtifactsDir to read it.
	ArtifactsDir string `yaml:"artifacts_dir"`
	// HistoryLimit is the history length (events) past which an incident continues as new.
	HistoryLimit int `yaml:"history_limit"`
	// Actions says, per containment kind, who may ask for it and how many approvers it needs
	// besides the asker. A kind given here replaces its default.
	Actions map[string]ActionRule `yaml:"actions"`
	// DedicatedChannel has each declaration create the Slack channel #inc-<id>, invite the
	// reporter, the owner and the approvers, and post the incident's messages there, with a
	// link from the channel of the incident's first target (default false).
	DedicatedChannel bool `yaml:"dedicated_channel"`
	// Owners may take an incident besides the approvers of its targets: names from people.
	Owners []string `yaml:"owners"`
	// ResetWithoutQuorum is how many accounts a require-reset may name before it needs one
	// approver besides the asker (default 5; 0: every reset needs one).
	ResetWithoutQuorum *int `yaml:"reset_without_quorum"`
	// DenyWithoutQuorum is the widest range a deny-cidr may name before it needs one approver
	// besides the asker (default /16 for IPv4, /48 for IPv6).
	DenyWithoutQuorum DenyWidth `yaml:"deny_without_quorum"`
	// AdminAccounts are accounts whose reset always needs a second person, besides every
	// target's probe.admin_username (default admin, administrator, root).
	AdminAccounts []string `yaml:"admin_accounts"`
	// KeepFor is how long a measure kept past resolve stays when the resolve does not say
	// (--keep-for; default 24h, at most 30 days).
	KeepFor Duration `yaml:"keep_for"`
}

// DenyWidth is a prefix length per address family: a range wider (shorter) needs a second person.
type DenyWidth struct {
	IPv4 *int `yaml:"ipv4"`
	IPv6 *int `yaml:"ipv6"`
}

// Contract returns the widths as the incident takes them.
func (w DenyWidth) Contract() contract.DenyWidth {
	return contract.DenyWidth{IPv4: deref(w.IPv4), IPv6: deref(w.IPv6)}
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// DefaultAdminAccounts are the account names a reset of always needs a second person for.
func DefaultAdminAccounts() []string { return []string{"admin", "administrator", "root"} }

// userName is the form of an account name (contract's user names).
var userName = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,64}$`)

// ActionRule is who may ask for a containment action ("owner", "approvers" or people's names)
// and how many approvers besides the asker it needs (0: none).
type ActionRule struct {
	Who    []string `yaml:"who"`
	Quorum int      `yaml:"quorum"`
}

// Incident defaults.
const (
	DefaultOwnerAck     = 5 * time.Minute
	DefaultFirstSteps   = 15 * time.Minute
	DefaultArtifactsDir = "var/artifacts"
	DefaultHistoryLimit = 10000
	// MinHistoryLimit keeps a run from continuing as new after every few events.
	MinHistoryLimit = 50
)

// Who entries that are not people's names.
const (
	WhoOwner     = "owner"
	WhoApprovers = "approvers"
)

// DefaultStatusEvery is the status-update cadence by severity.
func DefaultStatusEvery() map[string]time.Duration {
	return map[string]time.Duration{
		"low":      4 * time.Hour,
		"medium":   time.Hour,
		"high":     30 * time.Minute,
		"critical": 15 * time.Minute,
	}
}

// DefaultActions are the action rules of the kinds the config leaves out. A global logout needs
// an approver besides the owner; invalidate and rotate need none here, because the child run
// they start has its own go-ahead or approval.
func DefaultActions() map[string]ActionRule {
	owner := []string{WhoOwner}
	ownerOrApprovers := []string{WhoOwner, WhoApprovers}
	return map[string]ActionRule{
		contract.ContainLogoutUsers:  {Who: owner, Quorum: 0},
		contract.ContainLogoutAll:    {Who: owner, Quorum: 1},
		contract.ContainDenyCIDR:     {Who: owner, Quorum: 0},
		contract.ContainLogLevel:     {Who: owner, Quorum: 0},
		contract.ContainRequireReset: {Who: owner, Quorum: 0},
		contract.ContainInvalidate:   {Who: ownerOrApprovers, Quorum: 0},
		contract.ContainRotate:       {Who: ownerOrApprovers, Quorum: 0},
	}
}

// ArtifactsDir is the incident artifacts directory, resolved against the config's directory.
func (c *Config) ArtifactsDir() string {
	return c.Abs(c.Incident.ArtifactsDir)
}

// AdminAccounts are the accounts whose reset needs a second person: incident.admin_accounts
// and every target's probe.admin_username, each once.
func (c *Config) AdminAccounts() []string {
	out := slices.Clone(c.Incident.AdminAccounts)
	for _, name := range c.TargetNames() {
		if t := c.Targets[name]; t != nil && t.Probe.AdminUsername != "" && !slices.Contains(out, t.Probe.AdminUsername) {
			out = append(out, t.Probe.AdminUsername)
		}
	}
	return out
}

// Approvers is the union of every target's approvers, in target order, each once.
func (c *Config) Approvers() []string {
	var out []string
	for _, name := range c.TargetNames() {
		if t := c.Targets[name]; t != nil {
			for _, a := range t.Approvers {
				if !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

func (ic *IncidentConfig) defaults() {
	if ic.OwnerAck == 0 {
		ic.OwnerAck = Duration(DefaultOwnerAck)
	}
	if ic.FirstSteps == 0 {
		ic.FirstSteps = Duration(DefaultFirstSteps)
	}
	if ic.ArtifactsDir == "" {
		ic.ArtifactsDir = DefaultArtifactsDir
	}
	if ic.HistoryLimit == 0 {
		ic.HistoryLimit = DefaultHistoryLimit
	}
	if ic.StatusEvery == nil {
		ic.StatusEvery = map[string]Duration{}
	}
	for sev, d := range DefaultStatusEvery() {
		if _, ok := ic.StatusEvery[sev]; !ok {
			ic.StatusEvery[sev] = Duration(d)
		}
	}
	if ic.Actions == nil {
		ic.Actions = map[string]ActionRule{}
	}
	for kind, r := range DefaultActions() {
		if _, ok := ic.Actions[kind]; !ok {
			ic.Actions[kind] = r
		}
	}
	setInt := func(p **int, v int) {
		if *p == nil {
			*p = &v
		}
	}
	setInt(&ic.ResetWithoutQuorum, contract.DefaultResetWithoutQuorum)
	setInt(&ic.DenyWithoutQuorum.IPv4, contract.DefaultDenyWithoutQuorum4)
	setInt(&ic.DenyWithoutQuorum.IPv6, contract.DefaultDenyWithoutQuorum6)
	if ic.AdminAccounts == nil {
		ic.AdminAccounts = DefaultAdminAccounts()
	}
	if ic.KeepFor == 0 {
		ic.KeepFor = Duration(contract.DefaultKeepFor)
	}
}

// validate checks the section after defaults; people are the config's, approvers the union of
// the targets' approvers.
func (ic *IncidentConfig) validate(people map[string]*Person, approvers []string) error {
	f := func(field, format string, a ...any) error {
		return fmt.Errorf("incident.%s: %s", field, fmt.Sprintf(format, a...))
	}
	if ic.HistoryLimit < MinHistoryLimit {
		return f("history_limit", "must be at least %d events, got %d", MinHistoryLimit, ic.HistoryLimit)
	}
	for _, sev := range sortedKeys(ic.StatusEvery) {
		if !slices.Contains(contract.Severities, sev) {
			return f("status_every."+sev, "unknown severity (known: %s)", strings.Join(contract.Severities, ", "))
		}
		if ic.StatusEvery[sev] <= 0 {
			return f("status_every."+sev, "must be a positive duration like 30m")
		}
	}
	for _, kind := range sortedKeys(ic.Actions) {
		if !slices.Contains(contract.ContainKinds, kind) {
			return f("actions."+kind, "unknown action (known: %s)", strings.Join(contract.ContainKinds, ", "))
		}
		r := ic.Actions[kind]
		if len(r.Who) == 0 {
			return f("actions."+kind+".who", "at least one entry is required: owner, approvers or a person's name")
		}
		for i, w := range r.Who {
			if w == WhoOwner || w == WhoApprovers {
				continue
			}
			if _, ok := people[w]; !ok {
				return f(fmt.Sprintf("actions.%s.who[%d]", kind, i), "%q is neither owner, approvers nor a person in people", w)
			}
		}
		if r.Quorum < 0 || r.Quorum > len(approvers) {
			return f("actions."+kind+".quorum", "must be between 0 and the number of approvers (%d), got %d", len(approvers), r.Quorum)
		}
		// The child run's own go-ahead is the approval, and the start it carries is valid for
		// minutes only, too short to wait for approvals first.
		if (kind == contract.ContainInvalidate || kind == contract.ContainRotate) && r.Quorum != 0 {
			return f("actions."+kind+".quorum", "must be 0: the %s run has its own go-ahead", kind)
		}
	}
	for i, o := range ic.Owners {
		if _, ok := people[o]; !ok {
			return f(fmt.Sprintf("owners[%d]", i), "%q is not a person in people", o)
		}
	}
	if n := *ic.ResetWithoutQuorum; n < 0 {
		return f("reset_without_quorum", "must be 0 or more accounts, got %d", n)
	}
	if n := *ic.DenyWithoutQuorum.IPv4; n < 1 || n > 32 {
		return f("deny_without_quorum.ipv4", "must be a prefix length from 1 to 32, got %d", n)
	}
	if n := *ic.DenyWithoutQuorum.IPv6; n < 1 || n > 128 {
		return f("deny_without_quorum.ipv6", "must be a prefix length from 1 to 128, got %d", n)
	}
	for i, a := range ic.AdminAccounts {
		if !userName.MatchString(a) {
			return f(fmt.Sprintf("admin_accounts[%d]", i), "%q is not an account name", contract.CleanText(a))
		}
	}
	if ic.KeepFor.D() > contract.MaxKeepFor {
		return f("keep_for", "must be at most %s (30 days), got %s", contract.MaxKeepFor, ic.KeepFor.D())
	}
	return nil
}

// validateIncidentChannel checks that a dedicated channel can be linked from the channel where
// the incident's messages would otherwise go: the first target's.
func (c *Config) validateIncidentChannel() error {
	if !c.Incident.DedicatedChannel {
		return nil
	}
	names := c.TargetNames()
	if len(names) == 0 {
		return nil
	}
	if t := c.Targets[names[0]]; t != nil && strings.TrimSpace(t.Channel) == "" {
		return fmt.Errorf("incident.dedicated_channel: the link to an incident's channel is posted in targets.%s.channel, which is not set", names[0])
	}
	return nil
}

// freezeDefaults and validateFreeze handle a target's freeze key.
func (t *Target) freezeDefaults() {
	if t.Freeze == "" {
		t.Freeze = contract.FreezeRefuse
	}
}

func (t *Target) validateFreeze() error {
	if t.Freeze != contract.FreezeRefuse && t.Freeze != contract.FreezeWait {
		return fmt.Errorf("targets.%s.freeze: must be %q or %q, got %q", t.Name, contract.FreezeRefuse, contract.FreezeWait, t.Freeze)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
