// Package peer seals and checks the messages runs send each other, with an HMAC key that only
// workers hold. Temporal lets anyone with write access to a namespace signal any run; a seal
// tells a message a worker sent for a real run from one somebody typed.
package peer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/authops/authops/contract"
)

// MaxAge is how long a seal counts unless Expect says otherwise: a message is checked when it
// arrives, seconds after it was sealed, so a copy replayed later from a history is refused.
const MaxAge = 10 * time.Minute

// KeyLen is the key's length in bytes.
const KeyLen = 32

// Seal fills s.MAC with key.
func Seal(key []byte, s contract.PeerSeal) contract.PeerSeal {
	s.At = s.At.UTC()
	s.MAC = hex.EncodeToString(mac(key, s))
	return s
}

// Expect is what the receiver knows of a message.
type Expect struct {
	Kind, To, Digest string
	Now              time.Time
	// MaxAge overrides the package's MaxAge when set.
	MaxAge time.Duration
}

// Check says why s does not seal a message of kind to To with Digest at Now, or nil.
func Check(key []byte, s *contract.PeerSeal, want Expect) error {
	switch {
	case len(key) < KeyLen:
		return errors.New("this worker has no peer key to check the seal with (peer_key_file)")
	case s == nil:
		return errors.New("unsealed: no worker sent it")
	}
	maxAge := MaxAge
	if want.MaxAge > 0 {
		maxAge = want.MaxAge
	}
	got, err := hex.DecodeString(s.MAC)
	if err != nil || !hmac.Equal(got, mac(key, *s)) {
		return errors.New("bad seal: no worker of this namespace sealed it")
	}
	switch {
	case s.Kind != want.Kind:
		return fmt.Errorf("sealed as %s, received as %s", s.Kind, want.Kind)
	case s.To != want.To:
		return fmt.Errorf("sealed for %s, received by %s", s.To, want.To)
	case s.Digest != want.Digest:
		return errors.New("the message was changed after it was sealed")
	case want.Now.Sub(s.At) > maxAge:
		return fmt.Errorf("sealed at %s, more than %s ago: a replayed copy", s.At.Format(time.RFC3339), maxAge)
	case s.At.Sub(want.Now) > time.Minute:
		return fmt.Errorf("sealed at %s, in the future", s.At.Format(time.RFC3339))
	}
	return nil
}

// mac is the HMAC of the seal's fields, each length-prefixed so that no field can run into the
// next.
func mac(key []byte, s contract.PeerSeal) []byte {
	h := hmac.New(sha256.New, key)
	for _, f := range []string{"authops-peer-v1", s.Kind, s.From, s.FromRun, s.To, s.Digest, s.At.UTC().Format(time.RFC3339Nano)} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// LoadKey reads the key at path, and creates it (random, mode 0600) when there is none, so that
// the workers of one host share it without setup. Workers on several hosts need the same file.
func LoadKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := create(path); err != nil {
			return nil, err
		}
		key, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read peer key: %w", err)
	}
	if len(key) < KeyLen {
		return nil, fmt.Errorf("peer key %s: %d bytes, want at least %d", path, len(key), KeyLen)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("peer key %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	return key, nil
}

// create writes a new random key to path, unless another worker just did (O_EXCL).
func create(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create peer key: %w", err)
	}
	key := make([]byte, KeyLen)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("create peer key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".peer-key-*")
	if err != nil {
		return fmt.Errorf("create peer key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return fmt.Errorf("create peer key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("create peer key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("create peer key: %w", err)
	}
	// A hard link does not replace a key another worker created meanwhile: both then read one.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create peer key: %w", err)
	}
	return nil
}
