package gateway

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authops/authops/contract"
)

// Command is a parsed `/runbook` command. The parser only reads the text; the gateway fills in
// UpdateID (and a declaration's ID) and the runs judge everything else.
type Command struct {
	// Verb is help, rotate, invalidate, declare, owner, note, contain, verify, resolve, status,
	// approve, reject or freeze.
	Verb string
	// ID is the run the command is about; for declare, the new incident's id (set by the gateway).
	ID     string
	Target string
	// In and At give a rotation's window start: in a duration, or at an RFC 3339 UTC time or
	// an HH:MM UTC clock time (AtClock, the next one to come).
	In      time.Duration
	At      time.Time
	AtClock string
	// Text is the reason, comment, summary or note.
	Text       string
	Restrict   []string
	BreakGlass bool
	// Declare.
	Severity string
	Trigger  string
	Targets  []string
	// Modal: `incident declare` with no arguments opens the declaration modal.
	Modal bool
	// Contain.
	Kind  string
	Arg   string
	TTL   time.Duration
	Force bool
	// Note.
	Status bool
	// Resolve.
	Keep []string
	// Approve, reject: an incident's pending action (a1, a2, …).
	Action string
	// UpdateID names the Update of a decision, so that a retry decides once; set by the gateway.
	UpdateID string
}

// Mutates reports whether the command starts a run or decides in one: only people in the
// config may send it. help, status and freeze only read.
func (c Command) Mutates() bool {
	switch c.Verb {
	case "help", "status", "freeze":
		return false
	}
	return true
}

// UsageError is a command that cannot be parsed; Usage is the right form.
type UsageError struct {
	Problem string
	Usage   string
}

func (e *UsageError) Error() string {
	if e.Usage == "" {
		return e.Problem
	}
	return e.Problem + "\nusage: " + e.Usage
}

// Usage lines, one per command.
var usages = map[string]string{
	"rotate":     "/runbook rotate <target> [in <duration> | at <UTC time>] [reason…]",
	"invalidate": "/runbook invalidate <target> <reason…> [--restrict /a,/b] [--break-glass]",
	"declare":    "/runbook incident declare <severity> <summary…> [--trigger T] [--target T]… (no arguments: a form)",
	"owner":      "/runbook incident owner <id> [comment…]",
	"note":       "/runbook incident note <id> [--status] <text…>",
	"contain":    "/runbook incident contain <id> <action> [arg] [--target T] [--ttl 2h] [--force] [--restrict /a,/b] [reason…]",
	"verify":     "/runbook incident verify <id> [comment…]",
	"resolve":    "/runbook incident resolve <id> <summary…> [--keep deny-cidr|log-level]…",
	"status":     "/runbook status <id>",
	"approve":    "/runbook approve <id> [--action a2] [comment…]",
	"reject":     "/runbook reject <id> [--action a2] [comment…]",
	"freeze":     "/runbook freeze",
	"help":       "/runbook help",
}

// Help is the answer to `/runbook help`.
func Help() string {
	var b strings.Builder
	b.WriteString("authops runbooks:\n")
	for _, v := range []string{"rotate", "invalidate", "declare", "owner", "note", "contain", "verify", "resolve", "status", "approve", "reject", "freeze", "help"} {
		b.WriteString("  " + usages[v] + "\n")
	}
	b.WriteString("Starts and decisions are signed by the gateway for the person your Slack id belongs to in people:.")
	return b.String()
}

// maxCommand bounds the text of a command (Slack's limit is 4000 characters).
const maxCommand = 4000

var (
	clockPattern  = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	actionPattern = regexp.MustCompile(`^a[0-9]{1,6}$`)
)

// ParseCommand parses the text of a `/runbook` command. It is pure: no clock, no I/O.
func ParseCommand(text string) (Command, error) {
	if len(text) > maxCommand {
		return Command{}, &UsageError{Problem: fmt.Sprintf("the command is %d bytes; the limit is %d", len(text), maxCommand)}
	}
	if !utf8.ValidString(text) {
		return Command{}, &UsageError{Problem: "the command is not valid UTF-8"}
	}
	if err := contract.CheckText("command", strings.Map(tabToSpace, text)); err != nil {
		return Command{}, &UsageError{Problem: err.Error()}
	}
	words := strings.Fields(text)
	if len(words) == 0 {
		return Command{Verb: "help"}, nil
	}
	verb, rest := strings.ToLower(words[0]), words[1:]
	switch verb {
	case "help":
		return Command{Verb: "help"}, nil
	case "freeze":
		if len(rest) > 0 {
			return usage("freeze", "freeze takes no arguments")
		}
		return Command{Verb: "freeze"}, nil
	case "status":
		if len(rest) != 1 {
			return usage("status", "status needs one run id")
		}
		return Command{Verb: "status", ID: rest[0]}, nil
	case "rotate":
		return parseRotate(rest)
	case "invalidate":
		return parseInvalidate(rest)
	case "approve", "reject":
		return parseDecision(verb, rest)
	case "incident":
		if len(rest) == 0 {
			return Command{}, &UsageError{Problem: "incident needs a subcommand: declare, owner, note, contain, verify or resolve",
				Usage: usages["declare"]}
		}
		sub := strings.ToLower(rest[0])
		switch sub {
		case "declare":
			return parseDeclare(rest[1:])
		case "owner", "verify":
			return parseIncidentComment(sub, rest[1:])
		case "note":
			return parseNote(rest[1:])
		case "contain":
			return parseContain(rest[1:])
		case "resolve":
			return parseResolve(rest[1:])
		}
		return Command{}, &UsageError{Problem: fmt.Sprintf("unknown incident subcommand %q: declare, owner, note, contain, verify or resolve",
			contract.CleanText(sub)), Usage: usages["declare"]}
	}
	return Command{}, &UsageError{Problem: fmt.Sprintf("unknown command %q", contract.CleanText(verb)), Usage: usages["help"]}
}

func tabToSpace(r rune) rune {
	if r == '\t' || r == '\n' || r == '\r' {
		return ' '
	}
	return r
}

func usage(verb, problem string) (Command, error) {
	return Command{}, &UsageError{Problem: problem, Usage: usages[verb]}
}

// flags reads the flags named in spec out of words: spec maps a flag to whether it takes a
// value. A word that looks like a flag but is not in spec is an error, so that nothing the
// sender types ever reaches a run as a flag it did not mean. The other words are returned in
// order.
func flags(verb string, words []string, spec map[string]bool) (map[string][]string, []string, error) {
	got := map[string][]string{}
	var rest []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "--") {
			rest = append(rest, w)
			continue
		}
		name, value, hasValue := strings.Cut(w, "=")
		takes, ok := spec[name]
		if !ok {
			return nil, nil, &UsageError{Problem: fmt.Sprintf("%s does not take %s", verb, contract.CleanText(name)), Usage: usages[verb]}
		}
		switch {
		case !takes && hasValue:
			return nil, nil, &UsageError{Problem: fmt.Sprintf("%s takes no value", name), Usage: usages[verb]}
		case !takes:
			value = "true"
		case !hasValue:
			if i+1 >= len(words) {
				return nil, nil, &UsageError{Problem: fmt.Sprintf("%s needs a value", name), Usage: usages[verb]}
			}
			i++
			value = words[i]
		}
		got[name] = append(got[name], value)
	}
	return got, rest, nil
}

func last(m map[string][]string, name string) string {
	if v := m[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

func parseRotate(words []string) (Command, error) {
	if len(words) == 0 {
		return usage("rotate", "rotate needs a target")
	}
	c := Command{Verb: "rotate", Target: words[0]}
	rest := words[1:]
	if len(rest) > 0 && strings.HasPrefix(rest[0], "--") {
		return usage("rotate", "rotate takes no flags")
	}
	if len(rest) > 0 {
		switch strings.ToLower(rest[0]) {
		case "in":
			if len(rest) < 2 {
				return usage("rotate", "in needs a duration, e.g. in 2h")
			}
			d, err := time.ParseDuration(rest[1])
			if err != nil || d <= 0 {
				return usage("rotate", fmt.Sprintf("%q is not a positive duration like 30m or 2h", contract.CleanText(rest[1])))
			}
			c.In, rest = d, rest[2:]
		case "at":
			if len(rest) < 2 {
				return usage("rotate", "at needs a UTC time, e.g. at 22:00 or at 2026-11-28T22:00:00Z")
			}
			if clockPattern.MatchString(rest[1]) {
				c.AtClock = rest[1]
			} else {
				t, err := time.Parse(time.RFC3339, rest[1])
				if err != nil {
					return usage("rotate", fmt.Sprintf("%q is not a UTC time like 22:00 or 2026-11-28T22:00:00Z", contract.CleanText(rest[1])))
				}
				c.At = t.UTC()
			}
			rest = rest[2:]
		}
	}
	c.Text = strings.Join(rest, " ")
	return c, nil
}

func parseInvalidate(words []string) (Command, error) {
	f, rest, err := flags("invalidate", words, map[string]bool{"--restrict": true, "--break-glass": false})
	if err != nil {
		return Command{}, err
	}
	if len(rest) == 0 {
		return usage("invalidate", "invalidate needs a target and a reason")
	}
	c := Command{Verb: "invalidate", Target: rest[0], Text: strings.Join(rest[1:], " "), BreakGlass: last(f, "--break-glass") == "true"}
	if c.Text == "" {
		return usage("invalidate", "invalidate needs a reason: it is signed with the start and shown to everyone")
	}
	if r := last(f, "--restrict"); r != "" {
		if c.Restrict, err = list("invalidate", "--restrict", r); err != nil {
			return Command{}, err
		}
	}
	return c, nil
}

func list(verb, flag, s string) ([]string, error) {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			return nil, &UsageError{Problem: fmt.Sprintf("%s %q is malformed: empty item in the list", flag, contract.CleanText(s)), Usage: usages[verb]}
		}
		out = append(out, p)
	}
	return out, nil
}

func parseDecision(verb string, words []string) (Command, error) {
	f, rest, err := flags(verb, words, map[string]bool{"--action": true})
	if err != nil {
		return Command{}, err
	}
	if len(rest) == 0 {
		return usage(verb, verb+" needs a run id")
	}
	c := Command{Verb: verb, ID: rest[0], Text: strings.Join(rest[1:], " "), Action: last(f, "--action")}
	if c.Action != "" && !actionPattern.MatchString(c.Action) {
		return usage(verb, fmt.Sprintf("--action %q is not a pending action id like a2", contract.CleanText(c.Action)))
	}
	return c, nil
}

func parseDeclare(words []string) (Command, error) {
	if len(words) == 0 {
		return Command{Verb: "declare", Modal: true}, nil
	}
	f, rest, err := flags("declare", words, map[string]bool{"--trigger": true, "--target": true})
	if err != nil {
		return Command{}, err
	}
	if len(rest) < 2 {
		return usage("declare", "declare needs a severity and a summary")
	}
	c := Command{Verb: "declare", Severity: strings.ToLower(rest[0]), Text: strings.Join(rest[1:], " "),
		Trigger: last(f, "--trigger"), Targets: f["--target"]}
	if !slices.Contains(contract.Severities, c.Severity) {
		return usage("declare", fmt.Sprintf("severity must be one of %s", strings.Join(contract.Severities, ", ")))
	}
	if c.Trigger == "" {
		c.Trigger = "other"
	}
	if !slices.Contains(contract.IncidentTriggers, c.Trigger) {
		return usage("declare", fmt.Sprintf("--trigger must be one of %s", strings.Join(contract.IncidentTriggers, ", ")))
	}
	return c, nil
}

func parseIncidentComment(verb string, words []string) (Command, error) {
	if len(words) == 0 {
		return usage(verb, verb+" needs an incident id")
	}
	if slices.ContainsFunc(words, isFlag) {
		return usage(verb, verb+" takes no flags")
	}
	return Command{Verb: verb, ID: words[0], Text: strings.Join(words[1:], " ")}, nil
}

func isFlag(w string) bool { return strings.HasPrefix(w, "--") }

func parseNote(words []string) (Command, error) {
	f, rest, err := flags("note", words, map[string]bool{"--status": false})
	if err != nil {
		return Command{}, err
	}
	if len(rest) < 2 {
		return usage("note", "note needs an incident id and text")
	}
	return Command{Verb: "note", ID: rest[0], Text: strings.Join(rest[1:], " "), Status: last(f, "--status") == "true"}, nil
}

// containArg are the containment actions that take one argument.
var containArg = map[string]bool{
	contract.ContainLogoutUsers: true, contract.ContainDenyCIDR: true, contract.ContainLogLevel: true, contract.ContainRequireReset: true,
}

func parseContain(words []string) (Command, error) {
	f, rest, err := flags("contain", words, map[string]bool{"--target": true, "--ttl": true, "--force": false, "--restrict": true})
	if err != nil {
		return Command{}, err
	}
	if len(rest) < 2 {
		return usage("contain", "contain needs an incident id and an action: "+strings.Join(contract.ContainKinds, ", "))
	}
	c := Command{Verb: "contain", ID: rest[0], Kind: rest[1], Target: last(f, "--target"), Force: last(f, "--force") == "true"}
	if !slices.Contains(contract.ContainKinds, c.Kind) {
		return usage("contain", fmt.Sprintf("unknown action %q: %s", contract.CleanText(c.Kind), strings.Join(contract.ContainKinds, ", ")))
	}
	rest = rest[2:]
	if containArg[c.Kind] {
		if len(rest) == 0 {
			return usage("contain", c.Kind+" needs an argument")
		}
		c.Arg, rest = rest[0], rest[1:]
	}
	c.Text = strings.Join(rest, " ")
	if ttl := last(f, "--ttl"); ttl != "" {
		if c.TTL, err = time.ParseDuration(ttl); err != nil || c.TTL <= 0 {
			return usage("contain", fmt.Sprintf("--ttl %q is not a positive duration like 2h", contract.CleanText(ttl)))
		}
	}
	if r := last(f, "--restrict"); r != "" {
		if c.Restrict, err = list("contain", "--restrict", r); err != nil {
			return Command{}, err
		}
	}
	return c, nil
}

func parseResolve(words []string) (Command, error) {
	f, rest, err := flags("resolve", words, map[string]bool{"--keep": true})
	if err != nil {
		return Command{}, err
	}
	if len(rest) < 2 {
		return usage("resolve", "resolve needs an incident id and a summary")
	}
	return Command{Verb: "resolve", ID: rest[0], Text: strings.Join(rest[1:], " "), Keep: f["--keep"]}, nil
}
