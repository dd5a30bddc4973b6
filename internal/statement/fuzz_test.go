package statement

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
)

// fuzzVerifySetup is one valid signed statement and the policy it verifies against. The keys
// come from fixed seeds, so the committed corpus (testdata/fuzz/FuzzVerify) can hold the
// original signature and key lines: ed25519 signatures are deterministic.
type fuzzVerifySetup struct {
	signed                     contract.SignedStatement
	comment                    string
	exp                        Expect
	people                     []contract.Person
	gatewayKeys                []string
	aliceLine, bobLine, gwLine string
}

var fuzzNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func fuzzSigner(name string) (ssh.Signer, string) {
	seed := sha256.Sum256([]byte("authops fuzz key " + name))
	signer, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		panic(err)
	}
	return signer, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
}

var fuzzVerifyState = sync.OnceValue(func() fuzzVerifySetup {
	alice, aliceLine := fuzzSigner("alice")
	_, bobLine := fuzzSigner("bob")
	_, gwLine := fuzzSigner("gateway")
	s := fuzzVerifySetup{
		comment: "looks good",
		people: []contract.Person{
			{Name: "alice", SlackID: "U1", Keys: []string{aliceLine + " alice@laptop"}},
			{Name: "bob", SlackID: "U2", Keys: []string{bobLine}},
		},
		gatewayKeys: []string{gwLine},
		aliceLine:   aliceLine, bobLine: bobLine, gwLine: gwLine,
	}
	st := contract.Statement{
		Namespace:   "default",
		WorkflowID:  "rotation-payments",
		FirstRunID:  "run-1",
		Action:      "approve",
		Actor:       "alice",
		CommentHash: HashComment(s.comment),
		IssuedAt:    fuzzNow.Add(-30 * time.Second),
		Nonce:       "00112233445566778899aabbccddeeff",
		Client:      "authops-cli/fuzz",
	}
	signed, err := Sign(rand.Reader, alice, st)
	if err != nil {
		panic(err)
	}
	s.signed = signed
	s.exp = Expect{Namespace: st.Namespace, WorkflowID: st.WorkflowID, FirstRunID: st.FirstRunID,
		Action: st.Action, Comment: s.comment, Now: fuzzNow}
	return s
})

// FuzzVerify starts from a valid signed statement and replaces fields with fuzz input: the
// workflow id, action and comment (each either in the signed statement or in what the run
// expects, as chosen by the bits of where), the actor, the nonce, the signature bytes and
// format, and the key line. Verify must never panic, must refuse only with a *Refusal that
// does not echo the signature, and must accept exactly when every field equals the original
// (the key line may differ in text, e.g. its comment, but not in key bytes).
func FuzzVerify(f *testing.F) {
	s := fuzzVerifyState()
	st, exp := s.signed.Statement, s.exp
	orig := func(mut func(*fuzzVerifyInput)) {
		in := fuzzVerifyInput{st.WorkflowID, st.Action, st.Actor, s.comment, st.Nonce, s.signed.Sig,
			s.signed.SigFormat, s.signed.Key, 0}
		mut(&in)
		f.Add(in.workflowID, in.action, in.actor, in.comment, in.nonce, in.sig, in.sigFormat, in.key, in.where)
	}
	orig(func(*fuzzVerifyInput) {})
	orig(func(in *fuzzVerifyInput) { in.key += " another comment" })
	orig(func(in *fuzzVerifyInput) { in.key = `no-pty,command="true" ` + in.key })
	orig(func(in *fuzzVerifyInput) { in.workflowID = "rotation-other" })
	orig(func(in *fuzzVerifyInput) { in.workflowID, in.where = "rotation-other", 1 })
	orig(func(in *fuzzVerifyInput) { in.action = "reject" })
	orig(func(in *fuzzVerifyInput) { in.action, in.where = "rollback", 2 })
	orig(func(in *fuzzVerifyInput) { in.comment = "looks good " })
	orig(func(in *fuzzVerifyInput) { in.comment, in.where = "", 4 })
	orig(func(in *fuzzVerifyInput) { in.actor = "bob" })
	orig(func(in *fuzzVerifyInput) { in.actor = "alert:pagerduty" })
	orig(func(in *fuzzVerifyInput) { in.actor, in.key = "bob", s.bobLine })
	orig(func(in *fuzzVerifyInput) { in.key = s.bobLine })
	orig(func(in *fuzzVerifyInput) { in.key = s.gwLine })
	orig(func(in *fuzzVerifyInput) { in.key = "ssh-ed25519 not-base64!" })
	orig(func(in *fuzzVerifyInput) { in.nonce = "" })
	orig(func(in *fuzzVerifyInput) { in.sig = nil })
	orig(func(in *fuzzVerifyInput) { in.sig = append(bytes.Clone(in.sig), 0) })
	orig(func(in *fuzzVerifyInput) { in.sig = bytes.Clone(in.sig); in.sig[0] ^= 1 })
	orig(func(in *fuzzVerifyInput) { in.sigFormat = ssh.KeyAlgoRSASHA256 })

	f.Fuzz(func(t *testing.T, workflowID, action, actor, comment, nonce string, sig []byte, sigFormat, key string, where uint8) {
		signed := s.signed
		signed.Statement.Actor, signed.Statement.Nonce = actor, nonce
		signed.Sig, signed.SigFormat, signed.Key = sig, sigFormat, key
		e := exp
		if where&1 != 0 {
			e.WorkflowID = workflowID
		} else {
			signed.Statement.WorkflowID = workflowID
		}
		if where&2 != 0 {
			e.Action = action
		} else {
			signed.Statement.Action = action
		}
		if where&4 != 0 {
			e.Comment = comment
		} else {
			signed.Statement.CommentHash = HashComment(comment)
		}

		same := workflowID == st.WorkflowID && action == st.Action && comment == s.comment &&
			actor == st.Actor && nonce == st.Nonce && bytes.Equal(sig, s.signed.Sig) &&
			sigFormat == s.signed.SigFormat && sameKey(key, s.aliceLine)

		v, err := Verify(&signed, s.people, s.gatewayKeys, e)
		switch {
		case err == nil && !same:
			t.Fatalf("Verify accepted a changed statement: workflow %q action %q actor %q comment %q nonce %q sig %x format %q key %q (where %b)",
				workflowID, action, actor, comment, nonce, sig, sigFormat, key, where)
		case err != nil && same:
			t.Fatalf("Verify refused the original statement (key line %q): %v", key, err)
		case err == nil && v.Person != st.Actor:
			t.Fatalf("Verify accepted the statement for %q, want %q", v.Person, st.Actor)
		case err != nil:
			var r *Refusal
			if !errors.As(err, &r) {
				t.Fatalf("Verify returned %T %v, want a *Refusal", err, err)
			}
			if len(sig) >= 16 {
				for _, enc := range []string{hex.EncodeToString(sig), base64.StdEncoding.EncodeToString(sig), base64.RawStdEncoding.EncodeToString(sig)} {
					if strings.Contains(r.Reason, enc) {
						t.Fatalf("refusal echoes the signature: %q", r.Reason)
					}
				}
			}
		}
	})
}

type fuzzVerifyInput struct {
	workflowID, action, actor, comment, nonce string
	sig                                       []byte
	sigFormat, key                            string
	where                                     uint8
}

// sameKey reports whether line is an authorized_keys line of the same key as want.
func sameKey(line, want string) bool {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return false
	}
	w, _, _, _, err := ssh.ParseAuthorizedKey([]byte(want))
	if err != nil {
		panic(err)
	}
	return bytes.Equal(k.Marshal(), w.Marshal())
}

// FuzzEncode: Encode is injective. The encoding of any statement decodes (as SSH wire strings)
// back to exactly its fields, with IssuedAt as the same instant; moving bytes across the
// boundary between two neighbouring fields changes the encoding unless the fields are
// unchanged; and the same instant in another zone encodes to the same bytes.
func FuzzEncode(f *testing.F) {
	f.Add("default", "rotation-demo", "run-1", "approve", "alice", HashComment("looks good"), HashArgs(`{"action":"a1"}`),
		"00112233445566778899aabbccddeeff", "authops-cli/test", "", "", int64(1777636770), int64(123456789), uint8(1), uint8(3))
	f.Add("ab", "c", "", "", "", "", "", "", "", "", "", int64(0), int64(0), uint8(0), uint8(1))
	f.Add("a", "", "", "start:secret-rotation", "+break-glass", "", "", "", "", "slack", "U1", int64(-62135596800), int64(999999999), uint8(3), uint8(12))
	f.Add("\x00\x00\x00\x01", "\x00", "authops-statement-v2", "", "", "", "", "", "", "", "", int64(253402300799), int64(1), uint8(9), uint8(255))
	f.Add("", "", "", "approve", "alice", HashComment("ok"), "", "", "", "", "", int64(0), int64(0), uint8(5), uint8(64))
	f.Fuzz(func(t *testing.T, ns, wf, run, action, actor, hash, argsHash, nonce, client, via, slack string, sec, nsec int64, boundary, shift uint8) {
		// Years 1 to 9999, the range RFC 3339 can write.
		const minSec, maxSec = -62135596800, 253402300799
		sec = minSec + int64(uint64(sec)%uint64(maxSec-minSec+1))
		nsec = int64(uint64(nsec) % uint64(time.Second))
		fields := []string{ns, wf, run, action, actor, hash, argsHash, nonce, client, via, slack}
		at := time.Unix(sec, nsec).UTC()
		s := fuzzStatement(fields, at)
		enc := Encode(s)

		var dec encoded
		if err := ssh.Unmarshal(enc, &dec); err != nil {
			t.Fatalf("Encode(%+v) does not decode: %v", s, err)
		}
		got := []string{dec.Namespace, dec.WorkflowID, dec.FirstRunID, dec.Action, dec.Actor, dec.CommentHash,
			dec.ArgsHash, dec.Nonce, dec.Client, dec.Via, dec.SlackUser}
		if dec.Magic != Magic {
			t.Fatalf("Encode starts with %q, want %q", dec.Magic, Magic)
		}
		for i := range got {
			if got[i] != fields[i] {
				t.Fatalf("field %d decodes to %q, want %q", i, got[i], fields[i])
			}
		}
		if back, err := time.Parse(time.RFC3339Nano, dec.IssuedAt); err != nil || !back.Equal(at) {
			t.Fatalf("IssuedAt %s encodes as %q, which reads back as %s (%v)", at, dec.IssuedAt, back, err)
		}

		// Move shift bytes across the boundary between field i and field i+1 (i = boundary%10):
		// from the start of the right field to the end of the left one, or the other way round
		// when boundary >= 128.
		i := int(boundary) % (len(fields) - 1)
		moved := append([]string(nil), fields...)
		l, r := moved[i], moved[i+1]
		if boundary < 128 {
			n := int(shift) % (len(r) + 1)
			moved[i], moved[i+1] = l+r[:n], r[n:]
		} else {
			n := int(shift) % (len(l) + 1)
			moved[i], moved[i+1] = l[:len(l)-n], l[len(l)-n:]+r
		}
		changed := moved[i] != fields[i]
		if bytes.Equal(Encode(fuzzStatement(moved, at)), enc) == changed {
			t.Fatalf("fields %q and %q (changed=%v) encode equal=%v", fields, moved, changed, !changed)
		}

		// Another zone, or a monotonic reading, is the same instant: same bytes.
		zoned := fuzzStatement(fields, at.In(time.FixedZone("X", int(sec%50400))))
		if !bytes.Equal(Encode(zoned), enc) {
			t.Fatalf("the same instant in another zone encodes differently: %s vs %s", at, zoned.IssuedAt)
		}
		if next := fuzzStatement(fields, at.Add(time.Nanosecond)); bytes.Equal(Encode(next), enc) {
			t.Fatalf("IssuedAt %s and one nanosecond later encode the same", at)
		}
	})
}

func fuzzStatement(f []string, at time.Time) contract.Statement {
	return contract.Statement{
		Namespace: f[0], WorkflowID: f[1], FirstRunID: f[2], Action: f[3], Actor: f[4], CommentHash: f[5],
		ArgsHash: f[6], IssuedAt: at, Nonce: f[7], Client: f[8], Via: f[9], SlackUser: f[10],
	}
}
