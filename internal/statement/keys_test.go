package statement

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// testKey is a generated key pair in the forms the tests need.
type testKey struct {
	priv   crypto.Signer
	signer ssh.Signer
	// line is the authorized_keys line as people: would list it, with its own comment, so that
	// tests catch key comparison by text.
	line string
	pem  []byte
}

func newKey(t *testing.T, priv crypto.Signer) testKey {
	t.Helper()
	signer, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "test")
	require.NoError(t, err)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " someone@config"
	return testKey{priv: priv, signer: signer, line: line, pem: pem.EncodeToMemory(block)}
}

func newEd25519(t *testing.T) testKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return newKey(t, priv)
}

func newECDSA(t *testing.T) testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return newKey(t, priv)
}

// rsaPriv is generated once: RSA key generation is slow on a small CI box.
var rsaPriv = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func newRSA(t *testing.T) testKey {
	t.Helper()
	priv, err := rsaPriv()
	require.NoError(t, err)
	return newKey(t, priv)
}

// plainSigner hides SignWithAlgorithm, like an old signer that can only sign ssh-rsa (SHA-1).
type plainSigner struct{ s ssh.Signer }

func (p plainSigner) PublicKey() ssh.PublicKey { return p.s.PublicKey() }
func (p plainSigner) Sign(r io.Reader, data []byte) (*ssh.Signature, error) {
	return p.s.Sign(r, data)
}
