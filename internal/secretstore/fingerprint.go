package secretstore

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/authops/authops/internal/atomicfile"
)

const (
	// keyFileName holds the HMAC key for fingerprints, shared by all secrets
	// in one directory. It cannot clash with a secret, whose files end in
	// .json and .lock.
	keyFileName = "fingerprint.key"
	// fingerprintKeyLen is the HMAC key size: the SHA-256 block-size-safe
	// recommendation of at least the output size.
	fingerprintKeyLen = 32
	// fingerprintLen is the number of hex characters shown: 64 bits is plenty
	// to tell versions apart and too little to be useful to an attacker.
	fingerprintLen = 16
)

// Fingerprint returns the first 16 hex chars of HMAC-SHA256(fingerprintKey,
// value). It is keyed so that a fingerprint shown in Slack or in workflow
// history cannot be used to brute-force or confirm a guessed secret without
// the key file.
func (f *File) Fingerprint(value string) string {
	m := hmac.New(sha256.New, f.fpKey)
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))[:fingerprintLen]
}

// loadOrCreateKey returns the fingerprint key in dir, creating it if absent.
// Creation is race-free across processes: atomicfile.Create writes the key
// to a durable temp file and then hard-links it into place, and link fails if
// another process won, in which case its key is used. A crash leaves at most a stray
// temp file, never a truncated key.
func loadOrCreateKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, keyFileName)
	key, err := readKey(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return key, err
	}

	key = make([]byte, fingerprintKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate fingerprint key: %w", err)
	}
	created, err := atomicfile.Create(path, key, 0o600)
	if err != nil {
		return nil, fmt.Errorf("install fingerprint key: %w", err)
	}
	if !created {
		return readKey(path) // another process won
	}
	return key, nil
}

// readKey reads and checks a fingerprint key file.
func readKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read fingerprint key: %w", err)
	}
	if len(key) != fingerprintKeyLen {
		// Never regenerate: that would silently change every fingerprint.
		return nil, fmt.Errorf("fingerprint key %s is corrupt: %d bytes, want %d", path, len(key), fingerprintKeyLen)
	}
	return key, nil
}
