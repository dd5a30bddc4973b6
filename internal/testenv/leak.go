package testenv

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/log"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/demoenv"
)

// Searchable turns an exported history (JSON) into text where payloads are readable: every string
// value that is base64 is appended decoded, so a secret inside a payload cannot hide in encoding.
func Searchable(t testing.TB, historyJSON string) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString(historyJSON)
	dec := json.NewDecoder(strings.NewReader(historyJSON))
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		s, ok := tok.(string)
		if !ok || len(s) < 8 {
			continue
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				sb.WriteString("\n")
				sb.Write(b)
				break
			}
		}
	}
	return sb.String()
}

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

// distinctValues merges equal values under one name and drops the short ones, counting them. A
// value also read when the scan began is named once, as read at Check.
func distinctValues(in []leakBytes) ([]leakBytes, int) {
	var out []leakBytes
	var names [][]string
	index := map[string]int{}
	shortSeen := map[string]bool{}
	for _, v := range in {
		if len(v.b) < MinLeakValueLen {
			shortSeen[string(v.b)] = true
			continue
		}
		i, ok := index[string(v.b)]
		if !ok {
			i = len(out)
			index[string(v.b)] = i
			out = append(out, v)
			names = append(names, nil)
		}
		plain := strings.TrimSuffix(v.name, scanBeganSuffix)
		merged := false
		for j, n := range names[i] {
			if n == v.name || n == plain {
				merged = true
				break
			}
			if strings.TrimSuffix(n, scanBeganSuffix) == v.name {
				names[i][j], merged = v.name, true
				break
			}
		}
		if !merged {
			names[i] = append(names[i], v.name)
		}
	}
	for i := range out {
		out[i].name = strings.Join(names[i], " = ")
	}
	return out, len(shortSeen)
}

// leakEncodings are the forms a value is searched in. A value inside a longer base64 text is
// encoded differently depending on where it starts (offset mod 3), so the middle of each of the
// three encodings is searched as well.
var leakEncodings = []struct {
	name string
	enc  func(v []byte) []byte
}{
	{"raw", func(v []byte) []byte { return v }},
	{"JSON-escaped", jsonEscaped},
	{"base64", b64(base64.StdEncoding)},
	{"base64 unpadded", b64(base64.RawStdEncoding)},
	{"base64url", b64(base64.URLEncoding)},
	{"base64url unpadded", b64(base64.RawURLEncoding)},
	{"base64 within a longer text (offset 0)", b64Within(base64.RawStdEncoding, 0)},
	{"base64 within a longer text (offset 1)", b64Within(base64.RawStdEncoding, 1)},
	{"base64 within a longer text (offset 2)", b64Within(base64.RawStdEncoding, 2)},
	{"base64url within a longer text (offset 0)", b64Within(base64.RawURLEncoding, 0)},
	{"base64url within a longer text (offset 1)", b64Within(base64.RawURLEncoding, 1)},
	{"base64url within a longer text (offset 2)", b64Within(base64.RawURLEncoding, 2)},
	{"hex", func(v []byte) []byte { return []byte(hex.EncodeToString(v)) }},
	{"HEX", func(v []byte) []byte { return []byte(strings.ToUpper(hex.EncodeToString(v))) }},
}

func b64(enc *base64.Encoding) func([]byte) []byte {
	return func(v []byte) []byte { return []byte(enc.EncodeToString(v)) }
}

// b64Within returns the characters of enc(prefix + v) that depend on v alone, for a prefix of
// offset bytes: what any base64 text holding v at that offset (mod 3) contains.
func b64Within(enc *base64.Encoding, offset int) func([]byte) []byte {
	return func(v []byte) []byte {
		s := enc.EncodeToString(append(make([]byte, offset), v...))
		start := [3]int{0, 2, 3}[offset] // characters that share bits with the prefix
		end := len(s)
		if (offset+len(v))%3 != 0 {
			end-- // the last character shares bits with what follows
		}
		if end-start < MinLeakValueLen {
			return nil
		}
		return []byte(s[start:end])
	}
}

// jsonEscaped is v as it appears inside a JSON string, when that differs from v.
func jsonEscaped(v []byte) []byte {
	if !utf8.Valid(v) {
		return nil
	}
	b, err := json.Marshal(string(v))
	if err != nil || bytes.Equal(b[1:len(b)-1], v) {
		return nil
	}
	return b[1 : len(b)-1]
}

type leakHit struct {
	value, place int
	encodings    []string
}

// searchLeaks finds every needle (value × encoding) in every place. Needles are indexed by their
// first 8 bytes, so each place is read once however many needles there are.
func searchLeaks(vals, places []leakBytes) []leakHit {
	type needle struct {
		b     []byte
		value int
		enc   string
	}
	var needles []needle
	for vi, v := range vals {
		seen := map[string]int{}
		for _, e := range leakEncodings {
			b := e.enc(v.b)
			if len(b) < MinLeakValueLen {
				continue
			}
			if i, ok := seen[string(b)]; ok {
				needles[i].enc += "/" + e.name
				continue
			}
			seen[string(b)] = len(needles)
			needles = append(needles, needle{b, vi, e.name})
		}
	}
	const k = 8
	index := map[uint64][]int{}
	var first [1 << 16]bool
	for i, n := range needles {
		key := binary.LittleEndian.Uint64(n.b[:k])
		index[key] = append(index[key], i)
		first[binary.LittleEndian.Uint16(n.b[:2])] = true
	}
	var hits []leakHit
	for pi, p := range places {
		found := map[int]map[string]bool{}
		for i := 0; i+k <= len(p.b); i++ {
			if !first[binary.LittleEndian.Uint16(p.b[i:])] {
				continue
			}
			for _, ni := range index[binary.LittleEndian.Uint64(p.b[i:])] {
				n := needles[ni]
				if bytes.HasPrefix(p.b[i:], n.b) {
					if found[n.value] == nil {
						found[n.value] = map[string]bool{}
					}
					found[n.value][n.enc] = true
				}
			}
		}
		vis := make([]int, 0, len(found))
		for vi := range found {
			vis = append(vis, vi)
		}
		sort.Ints(vis)
		for _, vi := range vis {
			var encs []string
			for e := range found[vi] {
				encs = append(encs, e)
			}
			sort.Strings(encs)
			hits = append(hits, leakHit{value: vi, place: pi, encodings: encs})
		}
	}
	return hits
}

// demoValues reads the secrets of a demo directory, as the test: nothing goes through a workflow.
func demoValues(p demoenv.Paths) ([]leakBytes, error) {
	var out []leakBytes
	env, err := os.ReadFile(p.EnvFile)
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	for _, line := range strings.Split(string(env), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "JWT_SECRET="); ok {
			out = append(out, leakBytes{"JWT_SECRET of " + filepath.Base(p.EnvFile), []byte(strings.Trim(v, `"'`))})
		}
	}
	tok, err := os.ReadFile(p.AdminTokenFile)
	if err != nil {
		return nil, fmt.Errorf("read admin token: %w", err)
	}
	out = append(out, leakBytes{"admin token", bytes.TrimSpace(tok)})

	pws, err := os.ReadDir(p.PasswordsDir)
	if err != nil {
		return nil, fmt.Errorf("list passwords: %w", err)
	}
	for _, f := range pws {
		b, err := os.ReadFile(filepath.Join(p.PasswordsDir, f.Name()))
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		out = append(out, leakBytes{"password of " + f.Name(), bytes.TrimSpace(b)})
	}

	store, err := storeValues(p.SecretsDir)
	if err != nil {
		return nil, err
	}
	out = append(out, store...)

	for _, person := range demoenv.People() {
		b, err := os.ReadFile(p.KeyFile(person))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read SSH key of %s: %w", person, err)
		}
		out = append(out, leakBytes{"SSH private key file of " + person, b})
		key, err := ssh.ParseRawPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("parse SSH key of %s: %w", person, err)
		}
		switch k := key.(type) {
		case *ed25519.PrivateKey:
			out = append(out, leakBytes{"ed25519 seed of " + person, k.Seed()})
		case ed25519.PrivateKey:
			out = append(out, leakBytes{"ed25519 seed of " + person, k.Seed()})
		}
	}
	return out, nil
}

// storeValues reads every version value and the fingerprint key of a file secret store (see
// internal/secretstore: <name>.json holds {"versions": [{"id", "stage", "value"}]}), including
// temp files a crashed writer left.
func storeValues(dir string) ([]leakBytes, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list secret store: %w", err)
	}
	var out []leakBytes
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		switch {
		case name == "fingerprint.key":
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read fingerprint key: %w", err)
			}
			out = append(out, leakBytes{"secret store fingerprint key", b})
		case strings.HasSuffix(name, ".json") || strings.Contains(name, ".json.tmp-"):
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read secret store %s: %w", name, err)
			}
			var st struct {
				Name     string `json:"name"`
				Versions []struct {
					ID    string `json:"id"`
					Stage string `json:"stage"`
					Value string `json:"value"`
				} `json:"versions"`
			}
			if err := json.Unmarshal(b, &st); err != nil {
				if strings.HasPrefix(name, ".") {
					continue // a temp file cut short
				}
				// Not the JSON error itself: it may quote part of a secret.
				return nil, fmt.Errorf("secret store file %s is not valid JSON", name)
			}
			for _, v := range st.Versions {
				if v.Value != "" {
					out = append(out, leakBytes{fmt.Sprintf("secret store %s version %s (%s)", st.Name, v.ID, v.Stage), []byte(v.Value)})
				}
			}
		}
	}
	return out, nil
}

// TemporalDB is the dev server's SQLite database file.
func (e *Env) TemporalDB() string { return filepath.Join(e.Dir, "temporal.db") }

// sdkLogger is the SDK logger of the test's client and in-process worker: it prints where the
// SDK's default logger does and keeps a copy in WorkerLog, a place the leak scan searches.
func (e *Env) sdkLogger() log.Logger {
	w := io.MultiWriter(os.Stdout, e.WorkerLog)
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// leakPlaces exports and decodes every workflow history (the listed runs and the named ones)
// and returns them with the logs and the announcements.
func (e *Env) leakPlaces(t testing.TB, named []leakRun) ([]leakBytes, []leakRun, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var runs []leakRun
	seen := map[leakRun]bool{}
	add := func(r leakRun) {
		if !seen[r] {
			seen[r] = true
			runs = append(runs, r)
		}
	}
	var token []byte
	for {
		resp, err := e.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", PageSize: 1000, NextPageToken: token})
		if err != nil {
			return nil, nil, fmt.Errorf("list workflows: %w", err)
		}
		for _, x := range resp.GetExecutions() {
			add(leakRun{x.GetExecution().GetWorkflowId(), x.GetExecution().GetRunId()})
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	for _, r := range named {
		if r.runID == "" {
			d, err := e.Client.DescribeWorkflow(ctx, r.workflowID, "")
			if err != nil {
				return nil, nil, fmt.Errorf("describe %s: %w", r.workflowID, err)
			}
			r.runID = d.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId()
		}
		add(r)
	}
	var places []leakBytes
	for _, r := range runs {
		out, err := exec.CommandContext(ctx, filepath.Join(e.Bin, "temporal"), "workflow", "show",
			"--workflow-id", r.workflowID, "--run-id", r.runID, "--output", "json",
			"--address", e.server.FrontendHostPort(), "--namespace", "default").Output()
		if err != nil {
			return nil, nil, fmt.Errorf("export history of %s/%s: %w", r.workflowID, r.runID, err)
		}
		places = append(places, leakBytes{"history of " + r.workflowID + "/" + r.runID, []byte(Searchable(t, string(out)))})
	}
	var notes bytes.Buffer
	for _, m := range e.Notes.Messages() {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, nil, err
		}
		notes.Write(append(b, '\n'))
	}
	places = append(places,
		leakBytes{"worker log", []byte(e.WorkerLog.String())},
		leakBytes{"backend log", []byte(e.BackendLog.String())},
		leakBytes{"dev server log", []byte(e.ServerLog.String())},
		leakBytes{"announcements", notes.Bytes()})
	return places, runs, nil
}

// checkDatabaseHolds is the positive control of the database search: the file searched must be
// where the dev server stores, so the id of every workflow exported must be in it or its -wal.
func (e *Env) checkDatabaseHolds(t testing.TB, runs []leakRun) {
	t.Helper()
	db, err := os.ReadFile(e.TemporalDB())
	if err != nil {
		t.Fatalf("leak scan: read dev server database: %v", err)
	}
	wal, err := os.ReadFile(e.TemporalDB() + "-wal")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("leak scan: read dev server database -wal: %v", err)
	}
	for _, r := range runs {
		if !bytes.Contains(db, []byte(r.workflowID)) && !bytes.Contains(wal, []byte(r.workflowID)) {
			t.Fatalf("leak scan: the dev server database does not hold workflow %s: it is not where Temporal stores, and searching it would prove nothing",
				r.workflowID)
		}
	}
}
