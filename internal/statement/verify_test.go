package statement

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
)

var runNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// fixture is a policy with people, keys and a gateway.
type fixture struct {
	alice, alice2, bob, carol, dave, erin, gateway, stranger testKey
	people                                                   []contract.Person
	gatewayKeys                                              []string
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{
		alice: newEd25519(t), alice2: newEd25519(t), bob: newEd25519(t), carol: newEd25519(t),
		dave: newECDSA(t), erin: newRSA(t), gateway: newEd25519(t), stranger: newEd25519(t),
	}
	f.people = []contract.Person{
		// A broken line is skipped, not fatal: the config layer reports it.
		{Name: "alice", SlackID: "U1", Keys: []string{"ssh-ed25519 not-base64!", f.alice2.line, f.alice.line}},
		{Name: "bob", SlackID: "U2", Keys: []string{f.bob.line}},
		{Name: "carol", Keys: []string{f.carol.line}},
		{Name: "dave", Keys: []string{f.dave.line}},
		{Name: "erin", Keys: []string{f.erin.line}},
	}
	f.gatewayKeys = []string{"garbage", f.gateway.line}
	return f
}

func baseStatement() contract.Statement {
	return contract.Statement{
		Namespace:   "default",
		WorkflowID:  "rotation-demo",
		FirstRunID:  "run-1",
		Action:      "approve",
		Actor:       "alice",
		CommentHash: HashComment("looks good"),
		IssuedAt:    runNow.Add(-30 * time.Second),
		Nonce:       "00112233445566778899aabbccddeeff",
		Client:      "authops-cli/test",
	}
}

func baseExpect() Expect {
	return Expect{
		Namespace: "default", WorkflowID: "rotation-demo", FirstRunID: "run-1", Action: "approve",
		Comment: "looks good", Now: runNow,
	}
}

func sign(t *testing.T, k testKey, s contract.Statement) *contract.SignedStatement {
	t.Helper()
	signed, err := Sign(rand.Reader, k.signer, s)
	require.NoError(t, err)
	return &signed
}

// resign replaces the signature with one in the given algorithm, bypassing Sign's own checks.
func resign(t *testing.T, k testKey, algo string) func(*contract.SignedStatement) *contract.SignedStatement {
	return func(s *contract.SignedStatement) *contract.SignedStatement {
		sig, err := k.signer.(ssh.AlgorithmSigner).SignWithAlgorithm(rand.Reader, Encode(s.Statement), algo)
		require.NoError(t, err)
		s.SigFormat, s.Sig = sig.Format, sig.Blob
		return s
	}
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	type tc struct {
		name string
		key  testKey
		stmt func(*contract.Statement)                                 // before signing
		post func(*contract.SignedStatement) *contract.SignedStatement // after signing
		exp  func(*Expect)
		want Verified // when refusal is ""
		// refusal is a substring of the reason; "" means accepted.
		refusal string
	}
	alice := Verified{Person: "alice", Client: "authops-cli/test"}
	cases := []tc{
		{name: "ed25519 accepted", key: f.alice, want: alice},
		{name: "second listed key accepted", key: f.alice2, want: alice},
		{name: "ecdsa accepted", key: f.dave, stmt: func(s *contract.Statement) { s.Actor = "dave" },
			want: Verified{Person: "dave", Client: "authops-cli/test"}},
		{name: "rsa-sha2-256 accepted", key: f.erin, stmt: func(s *contract.Statement) { s.Actor = "erin" },
			want: Verified{Person: "erin", Client: "authops-cli/test"}},
		{name: "rsa-sha2-512 accepted", key: f.erin, stmt: func(s *contract.Statement) { s.Actor = "erin" },
			post: resign(t, f.erin, ssh.KeyAlgoRSASHA512), want: Verified{Person: "erin", Client: "authops-cli/test"}},
		{name: "start has no first run", key: f.alice,
			stmt: func(s *contract.Statement) { s.FirstRunID, s.Action = "", contract.ActionStartRotation },
			exp:  func(e *Expect) { e.FirstRunID, e.Action = "", contract.ActionStartRotation }, want: alice},
		{name: "issued exactly MaxAge ago", key: f.alice,
			stmt: func(s *contract.Statement) { s.IssuedAt = runNow.Add(-MaxAge) }, want: alice},
		{name: "issued exactly MaxSkew ahead", key: f.alice,
			stmt: func(s *contract.Statement) { s.IssuedAt = runNow.Add(MaxSkew) }, want: alice},
		{name: "claimed slack user without gateway is dropped", key: f.alice,
			stmt: func(s *contract.Statement) { s.SlackUser = "U1" }, want: alice},

		{name: "nil", key: f.alice, post: func(*contract.SignedStatement) *contract.SignedStatement { return nil },
			refusal: "unsigned: decisions must be signed"},
		{name: "empty sig", key: f.alice, post: func(s *contract.SignedStatement) *contract.SignedStatement { s.Sig = nil; return s },
			refusal: "a typed name is not enough"},
		{name: "unknown person", key: f.alice, stmt: func(s *contract.Statement) { s.Actor = "mallory" },
			refusal: `unknown person "mallory"`},
		{name: "person names are exact", key: f.alice, stmt: func(s *contract.Statement) { s.Actor = "Alice" },
			refusal: `unknown person "Alice"`},
		{name: "unparseable key", key: f.alice,
			post:    func(s *contract.SignedStatement) *contract.SignedStatement { s.Key = "ssh-ed25519 AAAA"; return s },
			refusal: "statement key is not a valid SSH public key"},
		{name: "ssh-rsa SHA-1 refused", key: f.erin, stmt: func(s *contract.Statement) { s.Actor = "erin" },
			post: resign(t, f.erin, ssh.KeyAlgoRSA), refusal: `signature format "ssh-rsa" is not allowed`},
		{name: "ssh-dss refused", key: f.alice,
			post:    func(s *contract.SignedStatement) *contract.SignedStatement { s.SigFormat = "ssh-dss"; return s },
			refusal: `signature format "ssh-dss" is not allowed`},
		{name: "someone else's key", key: f.bob, refusal: "belongs to bob, not alice"},
		{name: "unknown key", key: f.stranger, refusal: "unknown key SHA256:"},
		{name: "gateway key without via", key: f.gateway, refusal: "is the gateway's"},
		{name: "unknown via", key: f.alice, stmt: func(s *contract.Statement) { s.Via = "email" },
			refusal: `came via "email"`},
		{name: "bad signature", key: f.alice,
			post:    func(s *contract.SignedStatement) *contract.SignedStatement { s.Sig[0] ^= 1; return s },
			refusal: "bad signature"},
		{name: "tampered action", key: f.alice,
			post:    func(s *contract.SignedStatement) *contract.SignedStatement { s.Statement.Action = "reject"; return s },
			exp:     func(e *Expect) { e.Action = "reject" },
			refusal: "bad signature"},
		{name: "tampered comment hash", key: f.alice,
			post: func(s *contract.SignedStatement) *contract.SignedStatement {
				s.Statement.CommentHash = HashComment("other")
				return s
			},
			exp:     func(e *Expect) { e.Comment = "other" },
			refusal: "bad signature"},
		{name: "tampered time", key: f.alice,
			post: func(s *contract.SignedStatement) *contract.SignedStatement {
				s.Statement.IssuedAt = s.Statement.IssuedAt.Add(time.Second)
				return s
			},
			refusal: "bad signature"},
		{name: "wrong namespace", key: f.alice, exp: func(e *Expect) { e.Namespace = "prod" },
			refusal: `statement is for namespace "default", this is "prod"`},
		{name: "wrong workflow", key: f.alice, exp: func(e *Expect) { e.WorkflowID = "rotation-other" },
			refusal: `statement is for workflow "rotation-demo", this is "rotation-other"`},
		{name: "wrong first run", key: f.alice, exp: func(e *Expect) { e.FirstRunID = "run-2" },
			refusal: `statement is for first run "run-1", this is "run-2"`},
		{name: "wrong action", key: f.alice, exp: func(e *Expect) { e.Action = "rollback" },
			refusal: `statement is for action "approve", this is "rollback"`},
		{name: "comment mismatch", key: f.alice, exp: func(e *Expect) { e.Comment = "looks bad" },
			refusal: "comment does not match the signed one"},
		{name: "args mismatch", key: f.alice,
			stmt:    func(s *contract.Statement) { s.ArgsHash = HashArgs(`{"action":"a1"}`) },
			exp:     func(e *Expect) { e.Args = `{"action":"a2"}` },
			refusal: "arguments do not match the signed ones"},
		{name: "args signed, none expected", key: f.alice,
			stmt:    func(s *contract.Statement) { s.ArgsHash = HashArgs(`{"action":"a1"}`) },
			refusal: "arguments do not match the signed ones"},
		{name: "args expected, none signed", key: f.alice, exp: func(e *Expect) { e.Args = `{"action":"a1"}` },
			refusal: "arguments do not match the signed ones"},
		{name: "args in the comment are no args", key: f.alice,
			stmt:    func(s *contract.Statement) { s.CommentHash = HashComment("looks good\x00args:{\"action\":\"a1\"}") },
			exp:     func(e *Expect) { e.Args = `{"action":"a1"}` },
			refusal: "comment does not match the signed one"},
		{name: "args accepted", key: f.alice,
			stmt: func(s *contract.Statement) { s.ArgsHash = HashArgs(`{"action":"a1"}`) },
			exp:  func(e *Expect) { e.Args = `{"action":"a1"}` },
			want: Verified{Person: "alice", Client: "authops-cli/test"}},
		{name: "expired", key: f.alice,
			stmt:    func(s *contract.Statement) { s.IssuedAt = runNow.Add(-MaxAge - time.Nanosecond) },
			refusal: "statement expired (issued 2026-05-01T11:54:59.999999999Z, more than 5m ago)"},
		{name: "future", key: f.alice,
			stmt:    func(s *contract.Statement) { s.IssuedAt = runNow.Add(MaxSkew + time.Nanosecond) },
			refusal: "statement issued in the future (issued 2026-05-01T12:01:00.000000001Z, more than 1m after"},

		// Gateway statements.
		{name: "slack accepted", key: f.gateway,
			stmt: func(s *contract.Statement) { s.Via, s.SlackUser = ViaSlack, "U1" },
			want: Verified{Person: "alice", Via: "slack", SlackUser: "U1", Client: "authops-cli/test"}},
		{name: "slack without slack id", key: f.gateway,
			stmt:    func(s *contract.Statement) { s.Actor, s.Via, s.SlackUser = "carol", ViaSlack, "U3" },
			refusal: "carol has no Slack id in people:"},
		{name: "slack user mismatch", key: f.gateway,
			stmt:    func(s *contract.Statement) { s.Via, s.SlackUser = ViaSlack, "U2" },
			refusal: `slack user "U2" is not alice`},
		{name: "slack with empty slack user", key: f.gateway,
			stmt:    func(s *contract.Statement) { s.Via = ViaSlack },
			refusal: `slack user "" is not alice`},
		{name: "person's own key claiming slack", key: f.alice,
			stmt:    func(s *contract.Statement) { s.Via, s.SlackUser = ViaSlack, "U1" },
			refusal: "statement says via slack, but key SHA256:"},

		// Alerts: gateway only, incident and note only.
		{name: "alert starts incident", key: f.gateway,
			stmt: func(s *contract.Statement) {
				s.Actor, s.Via, s.FirstRunID, s.Action = "alert:pagerduty", ViaAlert, "", "start:auth-incident"
			},
			exp:  func(e *Expect) { e.FirstRunID, e.Action = "", "start:auth-incident" },
			want: Verified{Person: "alert:pagerduty", Via: "alert", Client: "authops-cli/test"}},
		{name: "alert notes", key: f.gateway,
			stmt: func(s *contract.Statement) { s.Actor, s.Via, s.Action = "alert:pagerduty", ViaAlert, "note" },
			exp:  func(e *Expect) { e.Action = "note" },
			want: Verified{Person: "alert:pagerduty", Via: "alert", Client: "authops-cli/test"}},
		{name: "alert cannot approve", key: f.gateway,
			stmt:    func(s *contract.Statement) { s.Actor, s.Via = "alert:pagerduty", ViaAlert },
			refusal: `an alert ("alert:pagerduty") may only start:auth-incident or note, not "approve"`},
		{name: "alert cannot start a rotation", key: f.gateway,
			stmt: func(s *contract.Statement) {
				s.Actor, s.Via, s.Action = "alert:pagerduty", ViaAlert, contract.ActionStartRotation
			},
			exp:     func(e *Expect) { e.Action = contract.ActionStartRotation },
			refusal: "may only start:auth-incident or note"},
		{name: "alert with a person's key", key: f.alice,
			stmt:    func(s *contract.Statement) { s.Actor, s.Via, s.Action = "alert:pagerduty", ViaAlert, "note" },
			exp:     func(e *Expect) { e.Action = "note" },
			refusal: "is not a gateway key"},
		{name: "alert not via gateway", key: f.gateway,
			stmt:    func(s *contract.Statement) { s.Actor, s.Action = "alert:pagerduty", "note" },
			exp:     func(e *Expect) { e.Action = "note" },
			refusal: `must come via the gateway`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := baseStatement()
			if c.stmt != nil {
				c.stmt(&s)
			}
			signed := sign(t, c.key, s)
			sigText := []string{hex.EncodeToString(signed.Sig), base64.StdEncoding.EncodeToString(signed.Sig)}
			if c.post != nil {
				signed = c.post(signed)
			}
			exp := baseExpect()
			if c.exp != nil {
				c.exp(&exp)
			}

			got, err := Verify(signed, f.people, f.gatewayKeys, exp)
			if c.refusal == "" {
				require.NoError(t, err)
				require.Equal(t, c.want, got)
				return
			}
			var r *Refusal
			require.True(t, errors.As(err, &r), "want a *Refusal, got %v", err)
			require.Contains(t, r.Reason, c.refusal)
			require.Equal(t, r.Reason, err.Error())
			require.Equal(t, Verified{}, got)
			for _, st := range sigText {
				require.NotContains(t, r.Reason, st, "a reason must not echo the signature")
			}
		})
	}
}

// A statement travels as JSON (signal payloads, workflow history) and must still verify.
func TestVerify_AfterJSONRoundTrip(t *testing.T) {
	f := newFixture(t)
	s := baseStatement()
	s.IssuedAt = time.Date(2026, 5, 1, 13, 59, 45, 987654321, time.FixedZone("CEST", 2*60*60))
	signed := sign(t, f.alice, s)
	b, err := json.Marshal(signed)
	require.NoError(t, err)
	var back contract.SignedStatement
	require.NoError(t, json.Unmarshal(b, &back))

	got, err := Verify(&back, f.people, f.gatewayKeys, baseExpect())
	require.NoError(t, err)
	require.Equal(t, "alice", got.Person)
}

// The key's comment is not part of the key: a statement whose Key line has another comment
// than people: lists is the same key.
func TestVerify_KeyComparedByBytes(t *testing.T) {
	f := newFixture(t)
	signed := sign(t, f.alice, baseStatement())
	require.NotContains(t, f.people[0].Keys, signed.Key)
	signed.Key += " a-different-comment"
	_, err := Verify(signed, f.people, f.gatewayKeys, baseExpect())
	require.NoError(t, err)
}
