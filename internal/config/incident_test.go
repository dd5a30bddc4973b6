package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
)

func TestIncident_Defaults(t *testing.T) {
	c := parseMinimal(t, "/x")
	ic := c.Incident
	require.Equal(t, 5*time.Minute, ic.OwnerAck.D())
	require.Equal(t, 15*time.Minute, ic.FirstSteps.D())
	require.Equal(t, map[string]Duration{
		"low": Duration(4 * time.Hour), "medium": Duration(time.Hour),
		"high": Duration(30 * time.Minute), "critical": Duration(15 * time.Minute),
	}, ic.StatusEvery)
	require.Equal(t, "var/artifacts", ic.ArtifactsDir)
	require.Equal(t, filepath.Join("/x", "var/artifacts"), c.ArtifactsDir())
	require.Equal(t, 10000, ic.HistoryLimit)
	require.Len(t, ic.Actions, len(contract.ContainKinds), "every kind has a rule")
	require.Equal(t, ActionRule{Who: []string{"owner"}, Quorum: 1}, ic.Actions[contract.ContainLogoutAll])
	require.Equal(t, ActionRule{Who: []string{"owner"}, Quorum: 0}, ic.Actions[contract.ContainLogoutUsers])
	require.Equal(t, ActionRule{Who: []string{"owner"}, Quorum: 0}, ic.Actions[contract.ContainDenyCIDR])
	require.Equal(t, ActionRule{Who: []string{"owner"}, Quorum: 0}, ic.Actions[contract.ContainLogLevel])
	require.Equal(t, ActionRule{Who: []string{"owner"}, Quorum: 0}, ic.Actions[contract.ContainRequireReset])
	require.Equal(t, ActionRule{Who: []string{"owner", "approvers"}, Quorum: 0}, ic.Actions[contract.ContainInvalidate])
	require.Equal(t, ActionRule{Who: []string{"owner", "approvers"}, Quorum: 0}, ic.Actions[contract.ContainRotate])
	require.Equal(t, contract.FreezeRefuse, c.Targets["demo"].Freeze)
	require.Equal(t, []string{"alice", "bob"}, c.Approvers())
	// The second-person rules.
	require.Empty(t, ic.Owners)
	require.Equal(t, 5, *ic.ResetWithoutQuorum)
	require.Equal(t, contract.DenyWidth{IPv4: 16, IPv6: 48}, ic.DenyWithoutQuorum.Contract())
	require.Equal(t, []string{"admin", "administrator", "root"}, ic.AdminAccounts)
	require.Equal(t, []string{"admin", "administrator", "root"}, c.AdminAccounts())
	require.Equal(t, 24*time.Hour, ic.KeepFor.D())
}

func TestIncident_SecondPersonSettings(t *testing.T) {
	doc := strings.Replace(minimal, "      username: probe\n", "      username: probe\n      admin_username: probe-admin\n      admin_password: {file: pa}\n", 1) +
		"incident:\n  owners: [carol]\n  reset_without_quorum: 0\n  deny_without_quorum: {ipv4: 24}\n  admin_accounts: [superuser]\n  keep_for: 2h\n"
	c, err := Parse([]byte(doc), "/x")
	require.NoError(t, err)
	ic := c.Incident
	require.Equal(t, []string{"carol"}, ic.Owners)
	require.Equal(t, 0, *ic.ResetWithoutQuorum, "an explicit 0: every reset needs a second person")
	require.Equal(t, contract.DenyWidth{IPv4: 24, IPv6: 48}, ic.DenyWithoutQuorum.Contract(), "a family left out keeps its default")
	require.Equal(t, []string{"superuser", "probe-admin"}, c.AdminAccounts(), "the probes' admin account is always one")
	require.Equal(t, 2*time.Hour, ic.KeepFor.D())
}

func TestIncident_Settings(t *testing.T) {
	doc := minimal + `incident:
  owner_ack: 2m
  first_steps: 10m
  status_every: {high: 20m}
  artifacts_dir: /srv/artifacts
  history_limit: 50
  actions:
    logout-all: {who: [owner, carol], quorum: 2}
    deny-cidr: {who: [approvers]}
`
	doc = strings.Replace(doc, "    approvers: [alice, bob]\n", "    approvers: [alice, bob]\n    freeze: wait\n", 1)
	c, err := Parse([]byte(doc), "/x")
	require.NoError(t, err)
	ic := c.Incident
	require.Equal(t, 2*time.Minute, ic.OwnerAck.D())
	require.Equal(t, 10*time.Minute, ic.FirstSteps.D())
	require.Equal(t, 20*time.Minute, ic.StatusEvery["high"].D())
	require.Equal(t, time.Hour, ic.StatusEvery["medium"].D(), "a severity left out keeps its default")
	require.Equal(t, "/srv/artifacts", c.ArtifactsDir(), "an absolute path stays as it is")
	require.Equal(t, 50, ic.HistoryLimit)
	require.Equal(t, ActionRule{Who: []string{"owner", "carol"}, Quorum: 2}, ic.Actions[contract.ContainLogoutAll])
	require.Equal(t, ActionRule{Who: []string{"approvers"}, Quorum: 0}, ic.Actions[contract.ContainDenyCIDR],
		"a kind given replaces its default")
	require.Equal(t, ActionRule{Who: []string{"owner"}, Quorum: 0}, ic.Actions[contract.ContainLogLevel])
	require.Equal(t, contract.FreezeWait, c.Targets["demo"].Freeze)
}

func TestIncident_ExplicitZeroQuorum(t *testing.T) {
	// Quorum of a target must be at least 1; an action's may be 0 (the owner alone).
	c, err := Parse([]byte(minimal+"incident:\n  actions:\n    logout-all: {who: [owner], quorum: 0}\n"), "/x")
	require.NoError(t, err)
	require.Equal(t, 0, c.Incident.Actions[contract.ContainLogoutAll].Quorum)
}

func TestIncident_RepoRunbook(t *testing.T) {
	c, err := Load("../../runbook.yaml")
	require.NoError(t, err)
	require.Equal(t, contract.FreezeRefuse, c.Targets["demo"].Freeze)
	require.Equal(t, filepath.Join(c.Dir, "var/artifacts"), c.ArtifactsDir())
	require.Equal(t, 1, c.Incident.Actions[contract.ContainLogoutAll].Quorum)
}

func TestIncident_BadSettings(t *testing.T) {
	cases := []struct {
		name    string
		section string
		want    string
	}{
		{"unknown key", "  owner_ack: 5m\n  owner_ak: 5m\n", "incident.owner_ak: unknown key (known: owner_ack, first_steps,"},
		{"bad duration", "  owner_ack: soon\n", `incident.owner_ack: "soon" is not a duration`},
		{"negative duration", "  first_steps: -1m\n", `incident.first_steps: "-1m" is negative`},
		{"unknown severity", "  status_every: {urgent: 5m}\n", "incident.status_every.urgent: unknown severity (known: low, medium, high, critical)"},
		{"zero cadence", "  status_every: {high: 0s}\n", "incident.status_every.high: must be a positive duration"},
		{"bad cadence", "  status_every: {high: often}\n", `incident.status_every.high: "often" is not a duration`},
		{"history limit too low", "  history_limit: 49\n", "incident.history_limit: must be at least 50 events, got 49"},
		{"negative history limit", "  history_limit: -5\n", "incident.history_limit: must be at least 50 events, got -5"},
		{"unknown action", "  actions: {nuke: {who: [owner]}}\n", "incident.actions.nuke: unknown action (known: logout-all,"},
		{"unknown action key", "  actions: {logout-all: {who: [owner], quorom: 1}}\n", "incident.actions.logout-all.quorom: unknown key (known: who, quorum)"},
		{"who not a list", "  actions: {logout-all: {who: owner}}\n", "incident.actions.logout-all.who: must be a list"},
		{"empty who", "  actions: {logout-all: {quorum: 1}}\n", "incident.actions.logout-all.who: at least one entry is required"},
		{"unknown person", "  actions: {logout-all: {who: [owner, mallory]}}\n", `incident.actions.logout-all.who[1]: "mallory" is neither owner, approvers nor a person in people`},
		{"negative quorum", "  actions: {logout-all: {who: [owner], quorum: -1}}\n", "incident.actions.logout-all.quorum: must be between 0 and the number of approvers (2), got -1"},
		{"quorum above approvers", "  actions: {logout-all: {who: [owner], quorum: 3}}\n", "incident.actions.logout-all.quorum: must be between 0 and the number of approvers (2), got 3"},
		{"invalidate with a quorum", "  actions: {invalidate: {who: [owner], quorum: 1}}\n", "incident.actions.invalidate.quorum: must be 0: the invalidate run has its own go-ahead"},
		{"actions not a mapping", "  actions: [logout-all]\n", "incident.actions: must be a mapping"},
		{"unknown owner", "  owners: [mallory]\n", `incident.owners[0]: "mallory" is not a person in people`},
		{"owners not a list", "  owners: carol\n", "incident.owners: must be a list"},
		{"negative reset quorum", "  reset_without_quorum: -1\n", "incident.reset_without_quorum: must be 0 or more accounts, got -1"},
		{"deny width zero", "  deny_without_quorum: {ipv4: 0}\n", "incident.deny_without_quorum.ipv4: must be a prefix length from 1 to 32, got 0"},
		{"deny width over 32", "  deny_without_quorum: {ipv4: 33}\n", "incident.deny_without_quorum.ipv4: must be a prefix length from 1 to 32, got 33"},
		{"deny width over 128", "  deny_without_quorum: {ipv6: 129}\n", "incident.deny_without_quorum.ipv6: must be a prefix length from 1 to 128, got 129"},
		{"deny width unknown family", "  deny_without_quorum: {ip4: 16}\n", "incident.deny_without_quorum.ip4: unknown key (known: ipv4, ipv6)"},
		{"deny width not a mapping", "  deny_without_quorum: 16\n", "incident.deny_without_quorum: must be a mapping"},
		{"bad admin account", "  admin_accounts: [\"root; rm\"]\n", `incident.admin_accounts[0]: "root; rm" is not an account name`},
		{"keep for too long", "  keep_for: 1000h\n", "incident.keep_for: must be at most 720h0m0s (30 days), got 1000h0m0s"},
		{"negative keep for", "  keep_for: -1h\n", `incident.keep_for: "-1h" is negative`},
		{"section not a mapping", "", "incident: must be a mapping"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := minimal + "incident:\n" + tc.section
			if tc.section == "" {
				doc = minimal + "incident: [owner_ack]\n"
			}
			c, err := Parse([]byte(doc), "/x")
			require.Error(t, err)
			require.Nil(t, c)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestTarget_BadFreeze(t *testing.T) {
	doc := strings.Replace(minimal, "    approvers: [alice, bob]\n", "    approvers: [alice, bob]\n    freeze: ignore\n", 1)
	_, err := Parse([]byte(doc), "/x")
	require.EqualError(t, err, `targets.demo.freeze: must be "refuse" or "wait", got "ignore"`)
}

func TestIncident_DedicatedChannel(t *testing.T) {
	require.False(t, parseMinimal(t, "/x").Incident.DedicatedChannel, "off unless asked for")

	withChannel := strings.Replace(minimal, "    approvers: [alice, bob]\n", "    approvers: [alice, bob]\n    channel: \"#auth-ops\"\n", 1)
	c, err := Parse([]byte(withChannel+"incident:\n  dedicated_channel: true\n"), "/x")
	require.NoError(t, err)
	require.True(t, c.Incident.DedicatedChannel)
	c, err = Parse([]byte(withChannel+"incident:\n  dedicated_channel: false\n"), "/x")
	require.NoError(t, err)
	require.False(t, c.Incident.DedicatedChannel)

	for doc, want := range map[string]string{
		withChannel + "incident:\n  dedicated_channel: maybe\n":  `incident.dedicated_channel: must be true or false, got "maybe"`,
		withChannel + "incident:\n  dedicated_channel: [true]\n": `incident.dedicated_channel: must be true or false`,
		withChannel + "incident:\n  dedicated_chanel: true\n":    "incident.dedicated_chanel: unknown key",
		minimal + "incident:\n  dedicated_channel: true\n":       "incident.dedicated_channel: the link to an incident's channel is posted in targets.demo.channel, which is not set",
	} {
		c, err := Parse([]byte(doc), "/x")
		require.Error(t, err, doc)
		require.Nil(t, c)
		require.Contains(t, err.Error(), want)
	}
}
