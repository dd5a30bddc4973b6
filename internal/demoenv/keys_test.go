package demoenv

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestPrepareKeys(t *testing.T) {
	dir := t.TempDir()
	p, err := Prepare(dir)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	seen := map[string]bool{}
	for _, person := range People() {
		if !strings.HasPrefix(readFile(t, p.KeyFile(person)), "-----BEGIN OPENSSH PRIVATE KEY-----\n") {
			t.Errorf("%s: private key is not in OpenSSH format", person)
		}
		priv := parsePrivate(t, p.KeyFile(person))
		if _, ok := priv.(*ed25519.PrivateKey); !ok {
			t.Errorf("%s: private key is %T, want ed25519", person, priv)
		}
		signer, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		pubLine := readFile(t, p.PublicKeyFile(person))
		pub, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(pubLine))
		if err != nil {
			t.Fatalf("%s: public key: %v", person, err)
		}
		if !bytes.Equal(pub.Marshal(), signer.PublicKey().Marshal()) {
			t.Errorf("%s: public key does not match the private key", person)
		}
		if pub.Type() != ssh.KeyAlgoED25519 || comment != person+"@authops-demo" {
			t.Errorf("%s: public key %s with comment %q", person, pub.Type(), comment)
		}
		if !strings.HasSuffix(pubLine, "\n") || strings.Count(pubLine, "\n") != 1 {
			t.Errorf("%s: public key file is not one authorized_keys line", person)
		}
		if seen[string(pub.Marshal())] {
			t.Errorf("%s: key shared with another person", person)
		}
		seen[string(pub.Marshal())] = true
	}
}

func TestPrepareRestoresPublicKeyFromPrivate(t *testing.T) {
	dir := t.TempDir()
	p, err := Prepare(dir)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	priv := readFile(t, p.KeyFile(PersonBob))
	want := readFile(t, p.PublicKeyFile(PersonBob))
	if err := os.Remove(p.PublicKeyFile(PersonBob)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p.KeyFile(PersonBob), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(dir); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if readFile(t, p.KeyFile(PersonBob)) != priv {
		t.Error("the private key was replaced")
	}
	if got := readFile(t, p.PublicKeyFile(PersonBob)); got != want {
		t.Errorf("restored public key %q, want %q", got, want)
	}
	assertMode(t, p.KeyFile(PersonBob), 0o600)
}

func TestPrepareRefusesPublicKeyWithoutPrivate(t *testing.T) {
	dir := t.TempDir()
	p, err := Prepare(dir)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if err := os.Remove(p.KeyFile(PersonCarol)); err != nil {
		t.Fatal(err)
	}
	// A fresh private key would not match the public key others may already trust.
	_, err = Prepare(dir)
	if err == nil || !strings.Contains(err.Error(), "has no private key") {
		t.Fatalf("got %v, want a missing private key error", err)
	}
	if _, err := os.Stat(p.KeyFile(PersonCarol)); err == nil {
		t.Error("a new private key was written next to the old public key")
	}
}

func TestPrepareRejectsMismatchedKeys(t *testing.T) {
	dir := t.TempDir()
	p, err := Prepare(dir)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	// Give alice bob's public key.
	if err := os.WriteFile(p.PublicKeyFile(PersonAlice), []byte(readFile(t, p.PublicKeyFile(PersonBob))), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Prepare(dir)
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("got %v, want a mismatch error", err)
	}
	if strings.Contains(err.Error(), "PRIVATE") {
		t.Error("error leaks the private key")
	}
}

func parsePrivate(t *testing.T, path string) any {
	t.Helper()
	k, err := ssh.ParseRawPrivateKey([]byte(readFile(t, path)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k
}
