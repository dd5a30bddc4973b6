package testenv

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/secretstore"
)

// fakeTB records what Check reports. Fatalf ends the goroutine, as testing.T's does.
type fakeTB struct {
	testing.TB // nil: Check must use only the methods below

	mu                   sync.Mutex
	logs, errors, fatals []string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatals = append(f.fatals, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) all() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(append(append(append([]string(nil), f.logs...), f.errors...), f.fatals...), "\n")
}

// check runs s.Check against a fake TB and returns it with the stats (zero when Check was fatal).
func check(s *LeakScan) (*fakeTB, LeakStats) {
	f := &fakeTB{}
	var st LeakStats
	done := make(chan struct{})
	go func() {
		defer close(done)
		st = s.Check(f)
	}()
	<-done
	return f, st
}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// secretValue is a value like the store's: 32 random bytes, base64url.
func secretValue(t *testing.T) string {
	return base64.RawURLEncoding.EncodeToString(random(t, 32))
}

// binaryValue is a key's raw bytes, chosen so that their base64url and base64 encodings differ:
// only the base64url search can find the first in a base64url text.
func binaryValue(t *testing.T) []byte {
	for {
		v := random(t, 32)
		if base64.URLEncoding.EncodeToString(v) != base64.StdEncoding.EncodeToString(v) {
			return v
		}
	}
}

func requireNotLeaked(t *testing.T, f *fakeTB, v string) {
	t.Helper()
	out := f.all()
	for _, enc := range []string{v, base64.StdEncoding.EncodeToString([]byte(v)), base64.URLEncoding.EncodeToString([]byte(v)), hex.EncodeToString([]byte(v))} {
		if strings.Contains(out, enc) {
			t.Fatalf("the report prints the value:\n%s", out)
		}
	}
}

func TestLeakScanFindsBase64URL(t *testing.T) {
	v := binaryValue(t)
	s := NewLeakScan()
	s.ValueBytes("new key", v)
	s.Value("other secret", secretValue(t))
	s.Place("clean log", "nothing to see here\n")
	s.Place("CLI output", `{"payload":"`+base64.URLEncoding.EncodeToString(v)+`"}`)
	f, st := check(s)
	if len(f.fatals) > 0 {
		t.Fatalf("fatal: %v", f.fatals)
	}
	if len(f.errors) != 1 || !strings.Contains(f.errors[0], "new key found in CLI output") || !strings.Contains(f.errors[0], "base64url") {
		t.Fatalf("want one hit naming the value, the place and base64url, got %q", f.errors)
	}
	if st.Hits != 1 || !strings.Contains(f.logs[0], "1 hits") {
		t.Fatalf("stats %+v, logs %q", st, f.logs)
	}
	requireNotLeaked(t, f, string(v))
	t.Logf("report of a leak:\n%s", f.all())

	// The same value as a base64url string is found too.
	s = NewLeakScan()
	text := secretValue(t)
	s.Value("new secret", text)
	s.Place("CLI output", "token="+base64.RawURLEncoding.EncodeToString([]byte(text)))
	f, _ = check(s)
	if len(f.errors) != 1 || !strings.Contains(f.errors[0], "new secret found in CLI output") {
		t.Fatalf("want one hit, got %q (fatal %q)", f.errors, f.fatals)
	}
	requireNotLeaked(t, f, text)
}

func TestLeakScanFindsHex(t *testing.T) {
	for _, upper := range []bool{false, true} {
		v := secretValue(t)
		h := hex.EncodeToString([]byte(v))
		if upper {
			h = strings.ToUpper(h)
		}
		s := NewLeakScan()
		s.Value("admin token", v)
		s.PlaceBytes("database", append(append(random(t, 1000), h...), random(t, 1000)...))
		f, _ := check(s)
		if len(f.errors) != 1 || !strings.Contains(f.errors[0], "admin token found in database") {
			t.Fatalf("upper=%v: want one hit, got %q (fatal %q)", upper, f.errors, f.fatals)
		}
		requireNotLeaked(t, f, v)
	}
}

// A value inside a longer base64 text is found wherever it starts.
func TestLeakScanFindsBase64WithinLongerText(t *testing.T) {
	v := secretValue(t)
	for offset := 0; offset < 6; offset++ {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
			payload := append(append(random(t, offset), v...), random(t, 7)...)
			s := NewLeakScan()
			s.Value("secret", v)
			s.Place("history", `{"data":"`+enc.EncodeToString(payload)+`"}`)
			f, _ := check(s)
			if len(f.errors) != 1 {
				t.Fatalf("offset %d: want one hit, got %q (fatal %q)", offset, f.errors, f.fatals)
			}
		}
	}
}

func TestLeakScanCleanPasses(t *testing.T) {
	s := NewLeakScan()
	s.Value("secret", secretValue(t))
	s.Value("token", secretValue(t))
	s.Value("pin", "1234") // too short to be a secret: ignored, and counted
	s.Value("token again", "x")
	s.Place("worker log", "started\nstopped\n")
	s.PlaceBytes("database", random(t, 1<<16))
	s.Place("empty", "")
	f, st := check(s)
	if len(f.errors)+len(f.fatals) > 0 {
		t.Fatalf("clean places failed: %q %q", f.errors, f.fatals)
	}
	want := LeakStats{Values: 2, Short: 2, Encodings: len(leakEncodings), Places: 3, Bytes: 16 + 1<<16}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	line := fmt.Sprintf("leak scan: 2 values (%d encodings each; 2 shorter than 8 bytes ignored) in 3 places, %d bytes searched, 0 hits",
		len(leakEncodings), 16+1<<16)
	if len(f.logs) != 2 || f.logs[0] != line {
		t.Fatalf("log %q, want %q", f.logs, line)
	}
	if want := "leak scan places: worker log (16 bytes); database (65536 bytes); empty (0 bytes)"; f.logs[1] != want {
		t.Fatalf("places log %q, want %q", f.logs[1], want)
	}
}

// The same value under several names is searched once and named by all of them.
func TestLeakScanMergesNames(t *testing.T) {
	v := secretValue(t)
	s := NewLeakScan()
	s.Value("JWT_SECRET"+scanBeganSuffix, v)
	s.Value("new secret", v)
	s.Value("JWT_SECRET", v)
	s.Value("old secret"+scanBeganSuffix, secretValue(t))
	s.Place("log", "x "+v+" "+v)
	f, st := check(s)
	if st.Values != 2 || len(f.errors) != 1 {
		t.Fatalf("stats %+v, errors %q", st, f.errors)
	}
	if want := "leak scan: JWT_SECRET = new secret found in log (as raw)"; f.errors[0] != want {
		t.Fatalf("got %q, want %q", f.errors[0], want)
	}
}

func TestLeakScanRefusesToSearchNothing(t *testing.T) {
	cases := map[string]func(s *LeakScan){
		"no places": func(s *LeakScan) { s.Value("secret", "0123456789abcdef") },
		"no values": func(s *LeakScan) { s.Place("log", "text") },
		"only short values": func(s *LeakScan) {
			s.Value("pin", "1234")
			s.Place("log", "text")
		},
		"empty value": func(s *LeakScan) {
			s.Value("secret", "0123456789abcdef")
			s.Value("token the test never got", "")
			s.Place("log", "text")
		},
		"only empty places": func(s *LeakScan) {
			s.Value("secret", "0123456789abcdef")
			s.Place("log", "")
		},
		"missing file": func(s *LeakScan) {
			s.Value("secret", "0123456789abcdef")
			s.File("db", filepath.Join(t.TempDir(), "nope"))
		},
		"history without an env": func(s *LeakScan) {
			s.Value("secret", "0123456789abcdef")
			s.Place("log", "text")
			s.History("rotation-demo")
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			s := NewLeakScan()
			setup(s)
			f, _ := check(s)
			if len(f.fatals) != 1 {
				t.Fatalf("want fatal, got errors %q fatals %q logs %q", f.errors, f.fatals, f.logs)
			}
			if strings.Contains(f.all(), "0123456789abcdef") {
				t.Fatalf("the report prints the value: %s", f.all())
			}
		})
	}
}

// DemoValues reads every secret of a demo directory: store versions, env file, admin token,
// passwords and SSH private keys (file and raw seed).
func TestLeakScanDemoValues(t *testing.T) {
	p, err := demoenv.Prepare(filepath.Join(t.TempDir(), "demo"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := secretstore.OpenFile(p.SecretsDir, "demo-jwt-secret")
	if err != nil {
		t.Fatal(err)
	}
	ver, err := store.CreatePending(t.Context(), "k1")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := store.Value(t.Context(), ver.ID)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(p.KeyFile(demoenv.PersonBob))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ssh.ParseRawPrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	seed := raw.(*ed25519.PrivateKey).Seed()
	pw, err := os.ReadFile(p.PasswordFile(demoenv.UserProbeAdmin))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)

	for name, tc := range map[string]struct{ leak, want string }{
		"store version":    {stored, "secret store demo-jwt-secret version " + ver.ID + " (pending)"},
		"JWT_SECRET":       {envSecret(t, p), "JWT_SECRET of backend.env"},
		"password":         {string(pw), "password of " + demoenv.UserProbeAdmin},
		"seed as hex":      {hex.EncodeToString(seed), "ed25519 seed of bob"},
		"key file base64":  {base64.StdEncoding.EncodeToString(block.Bytes), "ed25519 seed of bob"},
		"key file in JSON": {strings.Trim(fmt.Sprintf("%q", keyPEM), `"`), "SSH private key file of bob"},
	} {
		t.Run(name, func(t *testing.T) {
			s := NewLeakScan()
			s.DemoValues(p)
			s.Place("log", "before "+tc.leak+" after")
			f, st := check(s)
			if len(f.fatals) > 0 {
				t.Fatal(f.fatals)
			}
			// JWT_SECRET, admin token, 3 passwords, 1 store version, fingerprint key, 3 key files, 3 seeds.
			if st.Values != 13 {
				t.Errorf("values %d, want 13: %s", st.Values, f.all())
			}
			if len(f.errors) == 0 || !strings.Contains(strings.Join(f.errors, "\n"), tc.want+" found in log") {
				t.Fatalf("want a hit on %q, got %q", tc.want, f.errors)
			}
		})
	}
}

func envSecret(t *testing.T, p demoenv.Paths) string {
	b, err := os.ReadFile(p.EnvFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(strings.TrimPrefix(string(b), "JWT_SECRET="))
}
