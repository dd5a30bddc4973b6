// Package statement signs and verifies decision statements with people's existing SSH keys.
//
// A statement binds one decision (or start) to one run, one actor, one comment and one moment.
// The CLI signs it with the person's key (ssh-agent or key file); the Slack gateway signs with
// its own key on behalf of a Slack-verified user. The run verifies it inside the workflow, so
// verification is pure: no I/O, no clock, no randomness.
package statement

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
)

// Magic prefixes every encoding so that a signature over a statement can never be replayed as
// a signature over something else signed with the same key (a git commit, an SSH session).
// v2 signs the decision's arguments as a field of their own (ArgsHash); v1 hashed them into the
// comment, where a comment could spell out another decision's arguments.
const Magic = "authops-statement-v2"

// Time bounds on IssuedAt relative to the run's time (Expect.Now).
const (
	// MaxAge is how old a statement may be: long enough for a slow signal round trip, short
	// enough that a leaked statement is soon useless.
	MaxAge = 5 * time.Minute
	// MaxSkew is how far ahead of the run's clock a statement may be issued (clock drift
	// between a laptop and the Temporal server).
	MaxSkew = 1 * time.Minute
)

// Via values.
const (
	// ViaSlack: the gateway signed for a person whose Slack id Slack verified.
	ViaSlack = "slack"
	// ViaAlert: the gateway signed for an alert (Actor has contract.RequesterAlertPrefix).
	ViaAlert = "alert"
)

// encoded is the wire form of a Statement. Its field order is the signed format: never reorder,
// remove or insert fields; a new format needs a new Magic.
type encoded struct {
	Magic       string
	Namespace   string
	WorkflowID  string
	FirstRunID  string
	Action      string
	Actor       string
	CommentHash string
	ArgsHash    string
	IssuedAt    string
	Nonce       string
	Client      string
	Via         string
	SlackUser   string
}

// Encode returns the canonical bytes that are signed: Magic and every field of s in a fixed
// order, each length-prefixed (SSH wire strings), with IssuedAt as a UTC RFC 3339 string with
// nanoseconds. Same statement, same bytes, always: workflow replays verify these bytes again.
func Encode(s contract.Statement) []byte {
	return ssh.Marshal(encoded{
		Magic:       Magic,
		Namespace:   s.Namespace,
		WorkflowID:  s.WorkflowID,
		FirstRunID:  s.FirstRunID,
		Action:      s.Action,
		Actor:       s.Actor,
		CommentHash: s.CommentHash,
		ArgsHash:    s.ArgsHash,
		IssuedAt:    s.IssuedAt.UTC().Format(time.RFC3339Nano),
		Nonce:       s.Nonce,
		Client:      s.Client,
		Via:         s.Via,
		SlackUser:   s.SlackUser,
	})
}

// HashComment is the hex SHA-256 of a comment (or of a start's reason).
func HashComment(comment string) string {
	sum := sha256.Sum256([]byte(comment))
	return hex.EncodeToString(sum[:])
}

// HashArgs is a statement's ArgsHash for args: the hex SHA-256 of a decision's Args or of a
// start's StartArgs, and "" when there are none.
func HashArgs(args string) string {
	if args == "" {
		return ""
	}
	return HashComment(args)
}

// parseKey parses one authorized_keys line.
func parseKey(line string) (ssh.PublicKey, error) {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	return k, err
}

// keyIn reports whether key is among lines. Keys compare by wire bytes, not text: the same key
// carries different comments (and options) in different places. Unparseable lines are skipped;
// the config layer reports them.
func keyIn(key ssh.PublicKey, lines []string) bool {
	want := key.Marshal()
	for _, line := range lines {
		k, err := parseKey(line)
		if err != nil {
			continue
		}
		if string(k.Marshal()) == string(want) {
			return true
		}
	}
	return false
}
