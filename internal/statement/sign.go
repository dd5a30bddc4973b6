package statement

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/authops/authops/contract"
)

// Sign signs s with signer. ed25519 and ecdsa keys sign as usual; an RSA key signs with
// rsa-sha2-256, and Sign refuses a signer that cannot (Verify refuses SHA-1 ssh-rsa). The
// returned statement's Key is the signer's authorized_keys line, without a newline.
func Sign(rand io.Reader, signer ssh.Signer, s contract.Statement) (contract.SignedStatement, error) {
	pub := signer.PublicKey()
	keyType := pub.Type()
	if cert, ok := pub.(*ssh.Certificate); ok {
		keyType = cert.Key.Type()
	}
	data := Encode(s)

	var sig *ssh.Signature
	var err error
	if keyType == ssh.KeyAlgoRSA {
		as, ok := signer.(ssh.AlgorithmSigner)
		if !ok {
			return contract.SignedStatement{}, errors.New("sign statement: this RSA signer cannot sign with rsa-sha2-256, and SHA-1 ssh-rsa signatures are refused: use an ed25519 key or a newer ssh-agent")
		}
		sig, err = as.SignWithAlgorithm(rand, data, ssh.KeyAlgoRSASHA256)
	} else {
		sig, err = signer.Sign(rand, data)
	}
	if err != nil {
		return contract.SignedStatement{}, fmt.Errorf("sign statement with %s key %s: %w", keyType, ssh.FingerprintSHA256(pub), err)
	}
	// Catch what the run would refuse (an old agent ignoring the rsa-sha2-256 flag, a DSA key)
	// here, where the signer can still do something about it.
	if !allowedFormats[sig.Format] {
		return contract.SignedStatement{}, fmt.Errorf("sign statement: key %s produced a %q signature, which is refused: use an ed25519, ecdsa or RSA (rsa-sha2-256) key", ssh.FingerprintSHA256(pub), sig.Format)
	}
	return contract.SignedStatement{
		Statement: s,
		Key:       strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))),
		SigFormat: sig.Format,
		Sig:       sig.Blob,
	}, nil
}

// NewNonce returns 16 random bytes, hex-encoded.
func NewNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("nonce: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func noClose() error { return nil }

// FindSigner returns a signer for person, whose configured public keys are personKeys
// (authorized_keys lines). In order:
//   - keyFile, when given: that private key, which must be one of personKeys. A passphrase-
//     protected key is refused with a hint to use ssh-agent (the CLI does not prompt).
//   - the ssh-agent at agentSock (SSH_AUTH_SOCK; "" = none): its first key listed in personKeys.
//   - for each of demoKeyFiles (the .pub files personKeys were read from), the private key next
//     to it (the path without ".pub"), if it exists and is one of personKeys.
//
// The returned closer closes the agent connection; it is a no-op for the other sources.
func FindSigner(person string, personKeys []string, keyFile, agentSock string, demoKeyFiles []string) (ssh.Signer, func() error, error) {
	if keyFile != "" {
		signer, err := readPrivateKey(keyFile)
		if err != nil {
			return nil, nil, err
		}
		if !keyIn(signer.PublicKey(), personKeys) {
			//lint:ignore ST1005 "people:" is the config key's name, colon included, as in every message that names it
			return nil, nil, fmt.Errorf("key %s (%s) is not listed for %s in people:", keyFile, ssh.FingerprintSHA256(signer.PublicKey()), person)
		}
		return signer, noClose, nil
	}

	var agentNote string
	if agentSock == "" {
		agentNote = "no ssh-agent (SSH_AUTH_SOCK is not set)"
	} else {
		signer, closer, err := agentSigner(agentSock, personKeys)
		switch {
		case err != nil:
			agentNote = err.Error()
		case signer != nil:
			return signer, closer, nil
		default:
			agentNote = fmt.Sprintf("none of the ssh-agent's keys is listed for %s in people:", person)
		}
	}

	var fileNotes []string
	for _, pubPath := range demoKeyFiles {
		if !strings.HasSuffix(pubPath, ".pub") {
			continue
		}
		privPath := strings.TrimSuffix(pubPath, ".pub")
		if _, err := os.Stat(privPath); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		signer, err := readPrivateKey(privPath)
		if err != nil {
			// Keep looking; say why this one did not do if nothing else does.
			fileNotes = append(fileNotes, err.Error())
			continue
		}
		if keyIn(signer.PublicKey(), personKeys) {
			return signer, noClose, nil
		}
	}
	msg := fmt.Sprintf("no key for %s: %s, and no --key given", person, agentNote)
	if len(fileNotes) > 0 {
		msg += " (" + strings.Join(fileNotes, "; ") + ")"
	}
	return nil, nil, errors.New(msg)
}

// agentSigner returns the agent's first key listed in personKeys, or a nil signer when there is
// none. The closer closes the connection, which the signer needs open.
func agentSigner(sock string, personKeys []string) (ssh.Signer, func() error, error) {
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach the ssh-agent at %s: %w", sock, err)
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("list ssh-agent keys at %s: %w", sock, err)
	}
	for _, s := range signers {
		if keyIn(s.PublicKey(), personKeys) {
			return s, conn.Close, nil
		}
	}
	conn.Close()
	return nil, nil, nil
}

func readPrivateKey(path string) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("private key %s is passphrase-protected: add it to ssh-agent (ssh-add %s) and sign without --key", path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return signer, nil
}
