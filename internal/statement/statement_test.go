package statement

import (
	"encoding/binary"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
)

func sampleStatement() contract.Statement {
	return contract.Statement{
		Namespace:   "default",
		WorkflowID:  "rotation-demo",
		FirstRunID:  "run-1",
		Action:      "approve",
		Actor:       "alice",
		CommentHash: HashComment("looks good"),
		ArgsHash:    HashArgs(`{"action":"a1"}`),
		IssuedAt:    time.Date(2026, 5, 1, 11, 59, 30, 123456789, time.UTC),
		Nonce:       "00112233445566778899aabbccddeeff",
		Client:      "authops-cli/test",
		Via:         "slack",
		SlackUser:   "U1",
	}
}

// wireStrings is the SSH wire encoding written out by hand, so the signed format is pinned
// independently of the code under test: statements in flight (and in workflow histories) must
// verify after an upgrade.
func wireStrings(ss ...string) []byte {
	var b []byte
	for _, s := range ss {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

func TestEncode_Golden(t *testing.T) {
	s := sampleStatement()
	want := wireStrings("authops-statement-v2", "default", "rotation-demo", "run-1", "approve", "alice",
		HashComment("looks good"), HashComment(`{"action":"a1"}`), "2026-05-01T11:59:30.123456789Z", "00112233445566778899aabbccddeeff",
		"authops-cli/test", "slack", "U1")
	require.Equal(t, want, Encode(s))
}

func TestEncode_Stable(t *testing.T) {
	s := sampleStatement()
	require.Equal(t, Encode(s), Encode(s))

	// The same instant in another zone, or carrying a monotonic reading, is the same statement.
	other := s
	other.IssuedAt = s.IssuedAt.In(time.FixedZone("CEST", 2*60*60))
	require.Equal(t, Encode(s), Encode(other))
	now := time.Now()
	a, b := s, s
	a.IssuedAt, b.IssuedAt = now, now.Round(0)
	require.Equal(t, Encode(a), Encode(b))
}

// Every field of contract.Statement must be signed: a field added to the struct but not to
// Encode could be changed under a signature. The test walks the struct, so it covers new fields.
func TestEncode_ChangesWithEveryField(t *testing.T) {
	base := sampleStatement()
	typ := reflect.TypeOf(base)
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		t.Run(f.Name, func(t *testing.T) {
			changed := base
			v := reflect.ValueOf(&changed).Elem().Field(i)
			switch x := v.Interface().(type) {
			case string:
				v.SetString(x + "x")
			case time.Time:
				v.Set(reflect.ValueOf(x.Add(time.Nanosecond)))
			default:
				t.Fatalf("field %s has type %s: teach Encode and this test about it", f.Name, f.Type)
			}
			require.NotEqual(t, Encode(base), Encode(changed))
		})
	}
}

// Length prefixes keep field boundaries: moving a character from one field to the next is a
// different statement.
func TestEncode_FieldBoundaries(t *testing.T) {
	a, b := sampleStatement(), sampleStatement()
	a.Namespace, a.WorkflowID = "ab", "c"
	b.Namespace, b.WorkflowID = "a", "bc"
	require.NotEqual(t, Encode(a), Encode(b))
}

// oldDecisionText is how v1 signed a decision's arguments: appended to the comment.
func oldDecisionText(comment, args string) string {
	if args == "" {
		return comment
	}
	return comment + "\x00args:" + args
}

// The comment and the arguments are fields of their own: two (comment, args) pairs that v1
// signed as the same text are two statements now.
func TestEncode_CommentCannotSpellArgs(t *testing.T) {
	const args = `{"action":"a2"}`
	plainComment, plainArgs := "ok", args
	spelled, noArgs := "ok\x00args:"+args, ""
	require.Equal(t, oldDecisionText(plainComment, plainArgs), oldDecisionText(spelled, noArgs),
		"the pairs collided under v1: one signature verified for both")

	a, b := sampleStatement(), sampleStatement()
	a.CommentHash, a.ArgsHash = HashComment(plainComment), HashArgs(plainArgs)
	b.CommentHash, b.ArgsHash = HashComment(spelled), HashArgs(noArgs)
	require.NotEqual(t, Encode(a), Encode(b))
}

func TestHashArgs(t *testing.T) {
	require.Empty(t, HashArgs(""), "no arguments sign as no hash, never as the hash of an empty text")
	require.Equal(t, HashComment("{}"), HashArgs("{}"))
}

func TestHashComment(t *testing.T) {
	require.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", HashComment(""))
	require.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", HashComment("abc"))
	require.NotEqual(t, HashComment("ok"), HashComment("ok "))
}

func TestNewNonce(t *testing.T) {
	a, err := NewNonce()
	require.NoError(t, err)
	b, err := NewNonce()
	require.NoError(t, err)
	require.Len(t, a, 32)
	require.Regexp(t, `^[0-9a-f]{32}$`, a)
	require.NotEqual(t, a, b)
}
