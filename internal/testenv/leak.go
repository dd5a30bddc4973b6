package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/demoenv"
)

// scanBeganSuffix names the values env.LeakScan read when it was created.
const scanBeganSuffix = " (when the scan began)"

// MinLeakValueLen is the shortest value a LeakScan searches for: anything shorter is too short
// to be a secret and would match by chance. Shorter values are ignored and counted as such.
const MinLeakValueLen = 8

// LeakScan is the one leak scan step every end-to-end test shares. It collects VALUES (secrets,
// tokens, keys: name → value) and PLACES (anything a person or a log could read: name → bytes),
// and Check searches every value in every place, raw and in every encoding of leakEncodings.
// A hit names the value and the place, never the value itself.
//
// env.LeakScan(t) adds the stack's own values and places by itself; tests add what only they
// saw with Value and Place. Check refuses to pass having searched nothing.
type LeakScan struct {
	env *Env

	mu        sync.Mutex
	values    []leakBytes
	places    []leakBytes
	files     []leakFile
	demos     []demoenv.Paths
	histories []leakRun
	problems  []string
	checked   bool
}

type leakBytes struct {
	name string
	b    []byte
}

type leakFile struct {
	name, path string
	optional   bool
}

type leakRun struct{ workflowID, runID string }

// LeakStats are the counts of one Check.
type LeakStats struct {
	Values    int // distinct values searched for
	Short     int // values ignored as shorter than MinLeakValueLen
	Encodings int // encodings searched per value
	Places    int
	Histories int // of Places, the exported workflow histories
	Bytes     int // bytes searched, all places together
	Hits      int
}

// NewLeakScan returns a scanner with no values or places: the test adds all of them. Tests with
// a testenv stack use env.LeakScan instead.
func NewLeakScan() *LeakScan { return &LeakScan{} }

// LeakScan returns this test's scanner, the same one on every call. Besides what the test adds,
// its Check searches for
//   - every secret version in the target's secret store (read from its files, as the test) and
//     the store's fingerprint key, JWT_SECRET of the backend's env file, the admin token, every
//     demo password, and the demo people's SSH private keys (file and raw ed25519 seed), each
//     as it was when the scan was created and as it is at Check;
//
// in
//   - every workflow history of the namespace (listed, plus those named with History and
//     HistoryRun, since visibility may lag), exported with the Temporal CLI and decoded with
//     Searchable;
//   - the worker log, the backend log, the dev server log and the announcements;
//   - the dev server's database file and its -wal, as raw bytes.
//
// A test that creates a scan and ends without calling Check fails.
func (e *Env) LeakScan(t testing.TB) *LeakScan {
	t.Helper()
	if e.leak != nil {
		return e.leak
	}
	s := &LeakScan{env: e}
	// A rotation replaces the env file's secret; what it held before is a value too.
	vals, err := demoValues(e.Paths)
	if err != nil {
		t.Fatalf("leak scan: %v", err)
	}
	for _, v := range vals {
		s.ValueBytes(v.name+scanBeganSuffix, v.b)
	}
	s.DemoValues(e.Paths)
	e.leak = s
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.checked && !t.Failed() && !t.Skipped() {
			t.Errorf("leak scan: created but never checked (call scan.Check(t) at the end of the test)")
		}
	})
	return s
}

// Value adds a value to search for. An empty value fails Check: the test meant to search for
// something and got nothing.
func (s *LeakScan) Value(name, v string) { s.ValueBytes(name, []byte(v)) }

// ValueBytes adds a binary value to search for.
func (s *LeakScan) ValueBytes(name string, v []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(v) == 0 {
		s.problems = append(s.problems, fmt.Sprintf("value %q is empty: searching for it would prove nothing", name))
		return
	}
	s.values = append(s.values, leakBytes{name, bytes.Clone(v)})
}

// Place adds text to search in.
func (s *LeakScan) Place(name, text string) { s.PlaceBytes(name, []byte(text)) }

// PlaceBytes adds bytes to search in.
func (s *LeakScan) PlaceBytes(name string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.places = append(s.places, leakBytes{name, bytes.Clone(b)})
}

// File adds a file, read as raw bytes at Check; a missing file fails Check.
func (s *LeakScan) File(name, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files = append(s.files, leakFile{name: name, path: path})
}

// Database adds a Temporal dev server's SQLite file and, when it exists at Check, its -wal.
func (s *LeakScan) Database(name, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files = append(s.files, leakFile{name: name, path: path}, leakFile{name: name + " -wal", path: path + "-wal", optional: true})
}

// DemoValues adds, read at Check, the secrets of a demo directory: the secret store's versions
// and fingerprint key, JWT_SECRET, the admin token, the passwords and the SSH private keys.
func (s *LeakScan) DemoValues(p demoenv.Paths) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.demos = append(s.demos, p)
}

// DemoDir is DemoValues for a demo directory known by its path (what demoenv.Prepare was given).
func (s *LeakScan) DemoDir(dir string) {
	p, err := demoenv.NewPaths(dir)
	if err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.problems = append(s.problems, err.Error())
		return
	}
	s.DemoValues(p)
}

// History adds the latest runs of workflow ids to the histories searched. It needs env.LeakScan.
func (s *LeakScan) History(workflowIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range workflowIDs {
		s.histories = append(s.histories, leakRun{workflowID: id})
	}
}

// HistoryRun adds one run's history to the histories searched. It needs env.LeakScan.
func (s *LeakScan) HistoryRun(workflowID, runID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.histories = append(s.histories, leakRun{workflowID, runID})
}

// Check gathers the values and places and searches every value in every place. Each hit is an
// error naming the value and the place; searching nothing (no values, or no places) is fatal.
// It logs the counts: "leak scan: N values (M encodings each) in P places, B bytes searched, H hits".
func (s *LeakScan) Check(t testing.TB) LeakStats {
	t.Helper()
	s.mu.Lock()
	s.checked = true
	values := append([]leakBytes(nil), s.values...)
	places := append([]leakBytes(nil), s.places...)
	files := append([]leakFile(nil), s.files...)
	demos := append([]demoenv.Paths(nil), s.demos...)
	histories := append([]leakRun(nil), s.histories...)
	problems := append([]string(nil), s.problems...)
	s.mu.Unlock()

	if len(problems) > 0 {
		t.Fatalf("leak scan: %s", strings.Join(problems, "; "))
	}
	for _, p := range demos {
		vals, err := demoValues(p)
		if err != nil {
			t.Fatalf("leak scan: %v", err)
		}
		values = append(values, vals...)
	}
	var stats LeakStats
	if s.env != nil {
		// The workers' peer key seals messages between runs; it must never reach a history.
		if key, err := os.ReadFile(filepath.Join(s.env.Dir, config.DefaultPeerKeyFile)); err == nil {
			values = append(values, leakBytes{"peer key", key})
		}
		envPlaces, runs, err := s.env.leakPlaces(t, histories)
		if err != nil {
			t.Fatalf("leak scan: %v", err)
		}
		places = append(places, envPlaces...)
		stats.Histories = len(runs)
		s.env.checkDatabaseHolds(t, runs)
		files = append(files, leakFile{name: "dev server database", path: s.env.TemporalDB()},
			leakFile{name: "dev server database -wal", path: s.env.TemporalDB() + "-wal", optional: true})
	} else if len(histories) > 0 {
		t.Fatalf("leak scan: History needs a scan from env.LeakScan")
	}
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if f.optional && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatalf("leak scan: read %s: %v", f.name, err)
		}
		places = append(places, leakBytes{f.name, b})
	}

	vals, short := distinctValues(values)
	stats.Values, stats.Short, stats.Encodings, stats.Places = len(vals), short, len(leakEncodings), len(places)
	if len(vals) == 0 {
		t.Fatalf("leak scan: no values of at least %d bytes to search for (%d shorter ignored): the scan would prove nothing", MinLeakValueLen, short)
	}
	if len(places) == 0 {
		t.Fatalf("leak scan: no places to search in: the scan would prove nothing")
	}
	for _, p := range places {
		stats.Bytes += len(p.b)
	}
	if stats.Bytes == 0 {
		t.Fatalf("leak scan: %d places but all of them empty: the scan would prove nothing", len(places))
	}

	hits := searchLeaks(vals, places)
	for _, h := range hits {
		t.Errorf("leak scan: %s found in %s (as %s)", vals[h.value].name, places[h.place].name, strings.Join(h.encodings, ", "))
	}
	stats.Hits = len(hits)
	ignored := ""
	if short > 0 {
		ignored = fmt.Sprintf("; %d shorter than %d bytes ignored", short, MinLeakValueLen)
	}
	hist := ""
	if s.env != nil {
		hist = fmt.Sprintf(" (%d workflow histories)", stats.Histories)
	}
	t.Logf("leak scan: %d values (%d encodings each%s) in %d places%s, %d bytes searched, %d hits",
		stats.Values, stats.Encodings, ignored, stats.Places, hist, stats.Bytes, stats.Hits)
	var detail []string
	for _, p := range places {
		detail = append(detail, fmt.Sprintf("%s (%d bytes)", p.name, len(p.b)))
	}
	t.Logf("leak scan places: %s", strings.Join(detail, "; "))
	return stats
}
