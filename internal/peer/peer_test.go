package peer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
)

var key = []byte(strings.Repeat("k", KeyLen))

func sealed(at time.Time) contract.PeerSeal {
	return Seal(key, contract.PeerSeal{Kind: "preempt", From: "invalidate-demo", FromRun: "r1", To: "rotation-demo",
		Digest: contract.PeerDigest("msg"), At: at})
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	want := Expect{Kind: "preempt", To: "rotation-demo", Digest: contract.PeerDigest("msg"), Now: now}
	good := sealed(now.Add(-time.Second))
	require.NoError(t, Check(key, &good, want))

	for name, tc := range map[string]struct {
		seal func() *contract.PeerSeal
		key  []byte
		want Expect
		err  string
	}{
		"unsealed":        {seal: func() *contract.PeerSeal { return nil }, err: "unsealed"},
		"no key here":     {key: []byte{}, err: "no peer key"},
		"other key":       {key: []byte(strings.Repeat("x", KeyLen)), err: "bad seal"},
		"sender changed":  {seal: func() *contract.PeerSeal { s := good; s.From = "rotation-shop"; return &s }, err: "bad seal"},
		"not hex":         {seal: func() *contract.PeerSeal { s := good; s.MAC = "zz"; return &s }, err: "bad seal"},
		"other kind":      {want: Expect{Kind: "rotation-released", To: "rotation-demo", Digest: want.Digest, Now: now}, err: "sealed as preempt"},
		"other receiver":  {want: Expect{Kind: "preempt", To: "rotation-shop", Digest: want.Digest, Now: now}, err: "sealed for rotation-demo"},
		"changed":         {want: Expect{Kind: "preempt", To: "rotation-demo", Digest: contract.PeerDigest("other"), Now: now}, err: "changed after it was sealed"},
		"replayed":        {want: Expect{Kind: "preempt", To: "rotation-demo", Digest: want.Digest, Now: now.Add(MaxAge + time.Minute)}, err: "a replayed copy"},
		"from the future": {seal: func() *contract.PeerSeal { s := sealed(now.Add(time.Hour)); return &s }, err: "in the future"},
	} {
		t.Run(name, func(t *testing.T) {
			s, k, w := &good, key, want
			if tc.seal != nil {
				s = tc.seal()
			}
			if tc.key != nil {
				k = tc.key
			}
			if tc.want.Kind != "" {
				w = tc.want
			}
			err := Check(k, s, w)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
	// A longer MaxAge lets an announcement through a worker outage.
	long := want
	long.Now, long.MaxAge = now.Add(2*time.Hour), 24*time.Hour
	assert.NoError(t, Check(key, &good, long))
}

func TestLoadKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "peer.key")
	k1, err := LoadKey(path)
	require.NoError(t, err)
	assert.Len(t, k1, KeyLen)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	k2, err := LoadKey(path)
	require.NoError(t, err)
	assert.Equal(t, k1, k2, "the second worker reads the key the first created")

	require.NoError(t, os.Chmod(path, 0o644))
	_, err = LoadKey(path)
	require.ErrorContains(t, err, "readable by others")

	short := filepath.Join(t.TempDir(), "short.key")
	require.NoError(t, os.WriteFile(short, []byte("abc"), 0o600))
	_, err = LoadKey(short)
	require.ErrorContains(t, err, "want at least")
}
