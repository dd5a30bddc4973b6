package demoenv

import (
	"bytes"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestPrepareGatewayKey: the demo gateway gets its own ed25519 key pair, distinct from every
// person's.
func TestPrepareGatewayKey(t *testing.T) {
	p, err := Prepare(t.TempDir())
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	signer, err := ssh.ParsePrivateKey([]byte(readFile(t, p.KeyFile(GatewayKey))))
	if err != nil {
		t.Fatalf("gateway key: %v", err)
	}
	pub, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(readFile(t, p.PublicKeyFile(GatewayKey))))
	if err != nil {
		t.Fatalf("gateway public key: %v", err)
	}
	if pub.Type() != ssh.KeyAlgoED25519 || comment != "gateway@authops-demo" || !bytes.Equal(pub.Marshal(), signer.PublicKey().Marshal()) {
		t.Errorf("gateway public key %s %q does not match its private key", pub.Type(), comment)
	}
	for _, person := range People() {
		other, _, _, _, err := ssh.ParseAuthorizedKey([]byte(readFile(t, p.PublicKeyFile(person))))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(other.Marshal(), pub.Marshal()) {
			t.Errorf("the gateway shares %s's key", person)
		}
	}
}
