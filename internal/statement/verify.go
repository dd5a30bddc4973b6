package statement

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
)

// Expect is what the run expects of a statement.
type Expect struct {
	Namespace, WorkflowID, FirstRunID, Action string
	// Comment is hashed and compared with Statement.CommentHash.
	Comment string
	// Args (a decision's Args, a start's StartArgs) is hashed and compared with
	// Statement.ArgsHash.
	Args string
	// Now is the workflow's time (workflow.Now), never the wall clock.
	Now time.Time
}

// Verified is who a valid statement speaks for.
type Verified struct {
	// Person is the actor's canonical name (== Statement.Actor), or "alert:..." for an alert.
	Person string
	// Via is "" (the person's own key), "slack" or "alert" (the gateway's key).
	Via string
	// SlackUser is the Slack user id the gateway vouched for; set only when Via is "slack".
	SlackUser string
	// Client is the sender's client identity as the signer claims it.
	Client string
}

// Refusal is why a statement is not accepted; Reason is meant for the person who sent it.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

func refuse(format string, args ...any) *Refusal {
	return &Refusal{Reason: fmt.Sprintf(format, args...)}
}

// alertActions are the only actions an alert may take: it may open an incident and comment on
// it, never decide.
var alertActions = map[string]bool{"start:auth-incident": true, "note": true}

// allowedFormats are the signature formats accepted. ssh-rsa (SHA-1) and ssh-dss are not, even
// though ssh.PublicKey.Verify would accept an ssh-rsa signature from an RSA key.
var allowedFormats = map[string]bool{
	ssh.KeyAlgoED25519:   true,
	ssh.KeyAlgoECDSA256:  true,
	ssh.KeyAlgoECDSA384:  true,
	ssh.KeyAlgoECDSA521:  true,
	ssh.KeyAlgoRSASHA256: true,
	ssh.KeyAlgoRSASHA512: true,
}

// Verify checks signed against people (and the gateway's keys, for statements the gateway signed)
// and exp. It is pure and deterministic, because it runs inside a Temporal workflow: no I/O, no
// clock, no randomness. Every refusal is a *Refusal; reasons never echo the signature.
func Verify(signed *contract.SignedStatement, people []contract.Person, gatewayKeys []string, exp Expect) (Verified, error) {
	if signed == nil || len(signed.Sig) == 0 {
		return Verified{}, refuse("unsigned: decisions must be signed (starter ... or Slack); a typed name is not enough")
	}
	st := signed.Statement

	key, err := parseKey(signed.Key)
	if err != nil {
		return Verified{}, refuse("statement key is not a valid SSH public key: %v", err)
	}
	if !allowedFormats[signed.SigFormat] {
		return Verified{}, refuse("signature format %q is not allowed: sign with ed25519, ecdsa or RSA with rsa-sha2-256/512 (ssh-rsa SHA-1 and ssh-dss are refused)", signed.SigFormat)
	}
	if err := checkSigner(st, key, people, gatewayKeys, exp); err != nil {
		return Verified{}, err
	}
	if err := key.Verify(Encode(st), &ssh.Signature{Format: signed.SigFormat, Blob: signed.Sig}); err != nil {
		return Verified{}, refuse("bad signature: it does not match the statement and key %s (was the statement changed after signing?)", ssh.FingerprintSHA256(key))
	}

	// The fields below are signed, so the values quoted are the signer's.
	for _, f := range []struct{ what, got, want string }{
		{"namespace", st.Namespace, exp.Namespace},
		{"workflow", st.WorkflowID, exp.WorkflowID},
		{"first run", st.FirstRunID, exp.FirstRunID},
		{"action", st.Action, exp.Action},
	} {
		if f.got != f.want {
			return Verified{}, refuse("statement is for %s %q, this is %q", f.what, f.got, f.want)
		}
	}
	if st.CommentHash != HashComment(exp.Comment) {
		return Verified{}, refuse("comment does not match the signed one")
	}
	if st.ArgsHash != HashArgs(exp.Args) {
		return Verified{}, refuse("arguments do not match the signed ones (the action, its content or the start input differ from what was signed)")
	}
	issued := st.IssuedAt.UTC().Format(time.RFC3339Nano)
	if st.IssuedAt.Before(exp.Now.Add(-MaxAge)) {
		return Verified{}, refuse("statement expired (issued %s, more than %s ago): sign it again", issued, shortDuration(MaxAge))
	}
	if st.IssuedAt.After(exp.Now.Add(MaxSkew)) {
		return Verified{}, refuse("statement issued in the future (issued %s, more than %s after the run's time %s): check the signer's clock",
			issued, shortDuration(MaxSkew), exp.Now.UTC().Format(time.RFC3339))
	}

	v := Verified{Person: st.Actor, Via: st.Via, Client: st.Client}
	if st.Via == ViaSlack {
		// Only a gateway statement's Slack user is vouched for; otherwise it is a bare claim.
		v.SlackUser = st.SlackUser
	}
	return v, nil
}

// checkSigner checks that key may speak for st.Actor through st.Via.
func checkSigner(st contract.Statement, key ssh.PublicKey, people []contract.Person, gatewayKeys []string, exp Expect) error {
	fp := ssh.FingerprintSHA256(key)
	if strings.HasPrefix(st.Actor, contract.RequesterAlertPrefix) {
		// An alert is no person: only the gateway speaks for it, and only to open an incident
		// or add a note.
		if !keyIn(key, gatewayKeys) {
			return refuse("%q can only be signed by the gateway, and key %s is not a gateway key", st.Actor, fp)
		}
		if st.Via != ViaAlert && st.Via != ViaSlack {
			return refuse("%q must come via the gateway (via %q), not via %q", st.Actor, ViaAlert, st.Via)
		}
		if !alertActions[exp.Action] {
			return refuse("an alert (%q) may only start:auth-incident or note, not %q", st.Actor, exp.Action)
		}
		return nil
	}

	actor, ok := findPerson(people, st.Actor)
	if !ok {
		return refuse("unknown person %q: not in people:", st.Actor)
	}
	switch st.Via {
	case "":
		if keyIn(key, actor.Keys) {
			return nil
		}
		for _, p := range people {
			if p.Name != actor.Name && keyIn(key, p.Keys) {
				return refuse("key %s belongs to %s, not %s", fp, p.Name, actor.Name)
			}
		}
		if keyIn(key, gatewayKeys) {
			return refuse("key %s is the gateway's, but the statement does not say it came via Slack", fp)
		}
		return refuse("unknown key %s: it is not listed for %s in people:", fp, actor.Name)
	case ViaSlack:
		if !keyIn(key, gatewayKeys) {
			return refuse("statement says via slack, but key %s is not a gateway key", fp)
		}
		if actor.SlackID == "" {
			return refuse("%s has no Slack id in people:, so Slack cannot speak for them", actor.Name)
		}
		if st.SlackUser != actor.SlackID {
			return refuse("slack user %q is not %s", st.SlackUser, actor.Name)
		}
		return nil
	default:
		return refuse("statement for %s came via %q; only direct or via slack is allowed", actor.Name, st.Via)
	}
}

func findPerson(people []contract.Person, name string) (contract.Person, bool) {
	for _, p := range people {
		if p.Name == name {
			return p, true
		}
	}
	return contract.Person{}, false
}

// shortDuration prints 5m rather than 5m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	return s
}
