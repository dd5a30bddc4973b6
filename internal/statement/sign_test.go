package statement

import (
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestSign(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name       string
		signer     ssh.Signer
		wantFormat string
		wantErr    string
	}{
		{name: "ed25519", signer: f.alice.signer, wantFormat: ssh.KeyAlgoED25519},
		{name: "ecdsa", signer: f.dave.signer, wantFormat: ssh.KeyAlgoECDSA256},
		{name: "rsa signs with sha-256", signer: f.erin.signer, wantFormat: ssh.KeyAlgoRSASHA256},
		{name: "rsa signer that can only do sha-1", signer: plainSigner{f.erin.signer}, wantErr: "cannot sign with rsa-sha2-256"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			signed, err := Sign(rand.Reader, c.signer, baseStatement())
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.wantFormat, signed.SigFormat)
			require.Equal(t, baseStatement(), signed.Statement)
			require.Equal(t, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(c.signer.PublicKey()))), signed.Key)
			require.NotContains(t, signed.Key, "\n")
			require.NoError(t, c.signer.PublicKey().Verify(Encode(signed.Statement),
				&ssh.Signature{Format: signed.SigFormat, Blob: signed.Sig}))
		})
	}
}

// startAgent serves an in-memory ssh-agent holding keys on a unix socket and returns its path.
func startAgent(t *testing.T, keys ...testKey) string {
	t.Helper()
	keyring := agent.NewKeyring()
	for _, k := range keys {
		require.NoError(t, keyring.Add(agent.AddedKey{PrivateKey: k.priv}))
	}
	sock := filepath.Join(t.TempDir(), "a.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = agent.ServeAgent(keyring, conn)
			}()
		}
	}()
	return sock
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

func TestFindSigner_Agent(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name    string
		agent   []testKey
		person  string
		keys    []string
		want    testKey
		wantErr string
	}{
		{name: "first listed agent key", agent: []testKey{f.stranger, f.bob, f.alice, f.alice2},
			person: "alice", keys: []string{f.alice2.line, f.alice.line}, want: f.alice},
		{name: "rsa through the agent", agent: []testKey{f.erin}, person: "erin", keys: []string{f.erin.line}, want: f.erin},
		{name: "no listed key in agent", agent: []testKey{f.stranger, f.bob}, person: "alice", keys: []string{f.alice.line},
			wantErr: "no key for alice: none of the ssh-agent's keys is listed for alice in people:, and no --key given"},
		{name: "empty agent", person: "alice", keys: []string{f.alice.line},
			wantErr: "no key for alice: none of the ssh-agent's keys is listed for alice in people:, and no --key given"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sock := startAgent(t, c.agent...)
			signer, closer, err := FindSigner(c.person, c.keys, "", sock, nil)
			if c.wantErr != "" {
				require.EqualError(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			defer func() { require.NoError(t, closer()) }()
			require.Equal(t, c.want.signer.PublicKey().Marshal(), signer.PublicKey().Marshal())

			// The agent signs a statement that the run accepts; RSA goes as rsa-sha2-256.
			s := baseStatement()
			s.Actor = c.person
			signed, err := Sign(rand.Reader, signer, s)
			require.NoError(t, err)
			require.NotEqual(t, ssh.KeyAlgoRSA, signed.SigFormat)
			_, err = Verify(&signed, f.people, f.gatewayKeys, baseExpect())
			require.NoError(t, err)
		})
	}
}

func TestFindSigner_Files(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	aliceFile := writeFile(t, filepath.Join(dir, "alice_key"), f.alice.pem)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(f.alice.priv, "test", []byte("secret"))
	require.NoError(t, err)
	lockedFile := writeFile(t, filepath.Join(dir, "locked"), pem.EncodeToMemory(block))

	// Demo layout: people: lists keys from .pub files with the private key next to them.
	demo := filepath.Join(dir, "demo")
	require.NoError(t, os.Mkdir(demo, 0o700))
	writeFile(t, filepath.Join(demo, "alice"), f.alice.pem)
	alicePub := writeFile(t, filepath.Join(demo, "alice.pub"), []byte(f.alice.line+"\n"))
	lonePub := writeFile(t, filepath.Join(demo, "lone.pub"), []byte(f.alice2.line+"\n"))
	writeFile(t, filepath.Join(demo, "mixed"), f.bob.pem) // not the key its .pub says
	mixedPub := writeFile(t, filepath.Join(demo, "mixed.pub"), []byte(f.alice2.line+"\n"))
	writeFile(t, filepath.Join(demo, "locked"), pem.EncodeToMemory(block))
	lockedPub := writeFile(t, filepath.Join(demo, "locked.pub"), []byte(f.alice.line+"\n"))

	aliceKeys := []string{f.alice2.line, f.alice.line}
	cases := []struct {
		name    string
		keyFile string
		sock    string
		demo    []string
		want    testKey
		wantErr string
	}{
		{name: "key file", keyFile: aliceFile, want: f.alice},
		{name: "key file wins over agent", keyFile: aliceFile, sock: startAgent(t, f.alice2), want: f.alice},
		{name: "key file not listed", keyFile: writeFile(t, filepath.Join(dir, "bob_key"), f.bob.pem),
			wantErr: "is not listed for alice in people:"},
		{name: "passphrase-protected key file", keyFile: lockedFile, wantErr: "passphrase-protected: add it to ssh-agent"},
		{name: "missing key file", keyFile: filepath.Join(dir, "nope"), wantErr: "read private key"},
		{name: "demo key next to .pub", demo: []string{lonePub, mixedPub, alicePub}, want: f.alice},
		{name: "agent first, then demo key", sock: startAgent(t, f.bob), demo: []string{alicePub}, want: f.alice},
		{name: "unreachable agent, demo key", sock: filepath.Join(dir, "gone.sock"), demo: []string{alicePub}, want: f.alice},
		{name: "no agent and no usable demo key", demo: []string{lonePub, mixedPub},
			wantErr: "no key for alice: no ssh-agent (SSH_AUTH_SOCK is not set), and no --key given"},
		{name: "unreachable agent and nothing else", sock: filepath.Join(dir, "gone.sock"),
			wantErr: "no key for alice: cannot reach the ssh-agent at"},
		{name: "locked demo key is explained", demo: []string{lockedPub}, wantErr: "passphrase-protected"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			signer, closer, err := FindSigner("alice", aliceKeys, c.keyFile, c.sock, c.demo)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			require.NoError(t, closer())
			require.Equal(t, c.want.signer.PublicKey().Marshal(), signer.PublicKey().Marshal())
		})
	}
}

// The statement signed with a found key verifies end to end, as the CLI and the run use it.
func TestFindSigner_SignVerify(t *testing.T) {
	f := newFixture(t)
	signer, closer, err := FindSigner("bob", []string{f.bob.line}, "", startAgent(t, f.bob), nil)
	require.NoError(t, err)
	defer closer()
	s := baseStatement()
	s.Actor = "bob"
	signed, err := Sign(rand.Reader, signer, s)
	require.NoError(t, err)
	v, err := Verify(&signed, f.people, f.gatewayKeys, baseExpect())
	require.NoError(t, err)
	require.Equal(t, Verified{Person: "bob", Client: s.Client}, v)
}
