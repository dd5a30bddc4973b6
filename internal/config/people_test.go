package config

import (
	"crypto/ed25519"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
)

// testKey returns a fixed ed25519 key pair: its trimmed authorized_keys line and its private key
// in OpenSSH PEM form.
func testKey(t *testing.T, seed byte) (pub string, priv []byte) {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	k := ed25519.NewKeyFromSeed(s)
	sp, err := ssh.NewPublicKey(k.Public())
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(k, "test")
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))), pem.EncodeToMemory(block)
}

// withPeople replaces minimal's people section.
func withPeople(people string) string {
	return minimalTarget + people
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

func TestPeople_Resolve(t *testing.T) {
	dir := t.TempDir()
	alice1, _ := testKey(t, 1)
	alice2, _ := testKey(t, 2)
	bob, _ := testKey(t, 3)
	carol, _ := testKey(t, 4)
	gw1, _ := testKey(t, 5)
	gw2, _ := testKey(t, 6)
	// A .pub file as ssh-keygen writes it: a comment and a newline, which are dropped.
	writeFile(t, filepath.Join(dir, "keys", "alice.pub"), []byte(alice1+" alice@laptop\n"))
	writeFile(t, filepath.Join(dir, "carol.pub"), []byte("# carol's key\n"+carol+"\n"))
	abs := filepath.Join(t.TempDir(), "gw.pub")
	writeFile(t, abs, []byte(gw1+"\n"))

	c, err := Parse([]byte(`gateway:
  keys:
    - {file: `+abs+`}
    - "`+gw2+` gateway@slack"
`+withPeople(`people:
  alice:
    slack_id: UALICE
    keys:
      - {file: keys/alice.pub}
      - "  `+alice2+` alice@phone  "
  bob:
    keys: ["`+bob+`"]
  carol:
    slack_id: W0CAROL
    keys: [{file: carol.pub}]
`)), dir)
	require.NoError(t, err)

	p, ok := c.Person("alice")
	require.True(t, ok)
	require.Equal(t, "alice", p.Name)
	require.Equal(t, "UALICE", p.SlackID)
	_, ok = c.Person("mallory")
	require.False(t, ok)
	_, ok = c.Person("Alice")
	require.False(t, ok, "names are exact")

	require.Equal(t, []string{filepath.Join(dir, "keys", "alice.pub")}, c.KeyFiles("alice"))
	require.Empty(t, c.KeyFiles("bob"), "bob has inline keys only")
	require.Equal(t, []string{filepath.Join(dir, "carol.pub")}, c.KeyFiles("carol"))
	require.Empty(t, c.KeyFiles("mallory"))

	people, err := c.People()
	require.NoError(t, err)
	require.Equal(t, []contract.Person{
		{Name: "alice", SlackID: "UALICE", Keys: []string{alice1, alice2}},
		{Name: "bob", Keys: []string{bob}},
		{Name: "carol", SlackID: "W0CAROL", Keys: []string{carol}},
	}, people)

	gw, err := c.GatewayKeys()
	require.NoError(t, err)
	require.Equal(t, []string{gw1, gw2}, gw)
}

func TestPeople_FileKeysAreReadWhenResolved(t *testing.T) {
	dir := t.TempDir()
	// Load succeeds before the key files exist: the demo keys are generated after the config.
	c, err := Parse([]byte(minimal), dir)
	require.NoError(t, err)
	_, err = c.People()
	require.ErrorContains(t, err, "people.alice.keys[0]: ")
	require.ErrorIs(t, err, os.ErrNotExist)

	gw, err := c.GatewayKeys()
	require.NoError(t, err)
	require.Nil(t, gw, "no gateway section, no gateway keys")

	for i, name := range []string{"alice", "bob", "carol"} {
		k, _ := testKey(t, byte(10+i))
		writeFile(t, filepath.Join(dir, "keys", name+".pub"), []byte(k+"\n"))
	}
	people, err := c.People()
	require.NoError(t, err)
	require.Len(t, people, 3)
}

func TestPeople_ResolveErrors(t *testing.T) {
	alice, alicePriv := testKey(t, 1)
	bob, _ := testKey(t, 2)
	cases := []struct {
		name string
		file string // content of keys/alice.pub
		want string
	}{
		{"garbage", "s3cr3t not a key\n", "people.alice.keys[0]: not a public key in authorized_keys form"},
		{"empty", "", "people.alice.keys[0]: not a public key in authorized_keys form"},
		{"private key", string(alicePriv), "people.alice.keys[0]: is a private key; give the public key (the .pub file)"},
		{"two keys", alice + "\n" + bob + "\n", "people.alice.keys[0]: holds more than one key; give one key per entry"},
		{"options", `from="10.0.0.0/8" ` + alice + "\n", "people.alice.keys[0]: authorized_keys options are not supported; give the bare key"},
		{"same key as bob", bob + "\n", "people.bob.keys[0]: the same key as people.alice.keys[0]; a key belongs to one person"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "keys", "alice.pub"), []byte(tc.file))
			c, err := Parse([]byte(withPeople(`people:
  alice: {keys: [{file: keys/alice.pub}]}
  bob: {keys: ["`+bob+`"]}
`)), dir)
			require.NoError(t, err, "file keys are not read at load")
			_, err = c.People()
			require.EqualError(t, err, tc.want)
			for _, leak := range []string{"s3cr3t", "PRIVATE", alice, bob} {
				require.NotContains(t, err.Error(), leak, "key material is never echoed")
			}
		})
	}

	// The gateway's keys are named by their own field.
	dir := t.TempDir()
	c, err := Parse([]byte("gateway: {keys: [{file: missing.pub}]}\n"+minimal), dir)
	require.NoError(t, err)
	_, err = c.GatewayKeys()
	require.ErrorContains(t, err, "gateway.keys[0]: ")
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestPeople_InlineKeysCheckedAtLoad(t *testing.T) {
	alice, alicePriv := testKey(t, 1)
	bob, _ := testKey(t, 2)
	cases := []struct {
		name, people, want string
	}{
		{"same key twice across people", `people:
  alice: {keys: ["` + alice + ` a@x"]}
  bob: {keys: ["` + bob + `", "` + alice + ` b@y"]}
`, "people.bob.keys[1]: the same key as people.alice.keys[0]; a key belongs to one person"},
		{"two keys in one entry", `people:
  alice: {keys: ["` + alice + `\n` + bob + `"]}
  bob: {keys: [{file: b.pub}]}
`, "people.alice.keys[0]: holds more than one key"},
		{"options", `people:
  alice: {keys: ['command="/bin/true" ` + alice + `']}
  bob: {keys: [{file: b.pub}]}
`, "people.alice.keys[0]: authorized_keys options are not supported"},
		{"private key as a block", "people:\n  alice:\n    keys:\n      - |\n        " +
			strings.ReplaceAll(strings.TrimSpace(string(alicePriv)), "\n", "\n        ") +
			"\n  bob: {keys: [{file: b.pub}]}\n", "people.alice.keys[0]: is a private key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(withPeople(tc.people)), t.TempDir())
			require.Nil(t, c)
			require.ErrorContains(t, err, tc.want)
			for _, leak := range []string{"PRIVATE", alice, bob} {
				require.NotContains(t, err.Error(), leak, "key material is never echoed")
			}
		})
	}
}
