package config

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and it either returns a valid
// config or an error, never both or neither.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../../runbook.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(minimal))
	for _, s := range []string{
		"",
		"targets: {}\n",
		"targets:\n  demo:\n",
		"targets: [1, 2]\n",
		"- a\n- b\n",
		"targets:\n  demo:\n    probe:\n      password: hunter2\n",
		"targets:\n  demo: &d\n    base_url: http://x\n  other:\n    <<: *d\n",
		"a: &a [*a]\n",
		"targets:\n  o: &d\n   <<: *d", // found by this fuzzer: an alias inside its own anchor
		"targets: &t\n  o: *t\n",
		"targets:\n  a: &a {probe: {<<: [*a, *a]}}\n",
		"targets: {demo: {rotation: {approval_timeout: 15 minutes}}}\n",
		"targets:\n  demo:\n    critical_endpoints: [{path: x, expected_status: -1, as: root}]\n",
		"\xff\xfe\x00",
		"%YAML 1.1\n---\ntargets: ~\n...\n---\nx: 1\n",
		strings.Replace(minimal, "    approvers:", "    headers: &h {a: b}\n    approvers:", 1),
		strings.Replace(minimal, "    approvers:", "    quorum: {rotation: 0, emergency: 2}\n    approvers:", 1),
		strings.Replace(minimal, "[{file: keys/bob.pub}]", "[\"ssh-ed25519 AAAA\", {file: ~}, [x]]", 1),
		"people: {Alice: {keys: [x]}}\ngateway: {keys: []}\ntargets: {}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b, "/etc/authops")
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned a config and an error: %v", err)
			}
			return
		}
		if c == nil || len(c.Targets) == 0 {
			t.Fatal("Parse accepted a config without targets")
		}
		for _, name := range c.TargetNames() {
			tg, err := c.Target(name)
			if err != nil || tg == nil || tg.Name != name {
				t.Fatalf("target %q: %v", name, err)
			}
			if err := tg.validate(c.PeopleByName); err != nil {
				t.Fatalf("Parse accepted an invalid target: %v", err)
			}
			for _, a := range tg.Approvers {
				if _, ok := c.Person(a); !ok {
					t.Fatalf("target %q: approver %q is not a person", name, a)
				}
			}
			if tg.Quorum.Rotation < 1 || tg.Quorum.Emergency < 1 {
				t.Fatalf("target %q: quorum %+v after defaults", name, tg.Quorum)
			}
			for _, d := range []Duration{tg.Deployer.Timeout, tg.Deployer.ReadinessTimeout, tg.Claims.TTL,
				tg.Rotation.ApprovalTimeout, tg.Rotation.ReminderInterval, tg.Rotation.ObservationWindow,
				tg.Rotation.ApprovalValidity, tg.Emergency.ApprovalTimeout} {
				if d <= 0 {
					t.Fatalf("target %q: duration %s after defaults", name, d.D())
				}
			}
		}
	})
}
