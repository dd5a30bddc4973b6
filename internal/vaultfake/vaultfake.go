// Package vaultfake is a fake Vault at the network boundary, for tests: an HTTP server that
// answers the KV v2 endpoints the secret store uses (data with options.cas, metadata with
// custom_metadata and cas_required, deleted and destroyed versions), token auth by the
// X-Vault-Token header, AppRole login and sys/capabilities-self, with Vault's status codes and
// {"errors":[...]} bodies. The real client library drives it.
package vaultfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fake is a running fake Vault.
type Fake struct {
	*httptest.Server

	mu       sync.Mutex
	mounts   map[string]bool
	tokens   map[string]bool // token -> may write
	approles map[string]string
	secrets  map[string]*secret // "<mount>/<path>"
	sealed   bool
	issued   int
	// before runs before each authenticated request, outside the lock: tests inject a
	// concurrent writer, an expiring token or an outage at a given call.
	before func(r *http.Request)
}

type secret struct {
	meta     map[string]any
	cas      bool
	max      int
	created  time.Time
	updated  time.Time
	versions []*version // index n-1 is version n
}

type version struct {
	data      map[string]any
	created   time.Time
	deleted   time.Time
	destroyed bool
	removed   bool // beyond max_versions: Vault forgets it
}

// New starts a fake with a KV v2 mount "secret" and the given root token (which may write).
func New(rootToken string) *Fake {
	f := &Fake{mounts: map[string]bool{"secret": true}, tokens: map[string]bool{rootToken: true},
		approles: map[string]string{}, secrets: map[string]*secret{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// AddToken adds a token; a read-only token may read but not write.
func (f *Fake) AddToken(token string, write bool) { f.do(func() { f.tokens[token] = write }) }

// Revoke makes token invalid, as its expiry would.
func (f *Fake) Revoke(token string) { f.do(func() { delete(f.tokens, token) }) }

// AddAppRole adds an AppRole whose login issues a writing token.
func (f *Fake) AddAppRole(roleID, secretID string) { f.do(func() { f.approles[roleID] = secretID }) }

// Seal makes every request fail with 503 "Vault is sealed", or stops that.
func (f *Fake) Seal(sealed bool) { f.do(func() { f.sealed = sealed }) }

// Before sets the hook run before each request (nil for none).
func (f *Fake) Before(fn func(r *http.Request)) { f.do(func() { f.before = fn }) }

// Delete soft-deletes version n of mount/path, as `vault kv delete -versions=n`.
func (f *Fake) Delete(mount, path string, n int) {
	f.do(func() { f.secrets[mount+"/"+path].versions[n-1].deleted = time.Now().UTC() })
}

// Destroy destroys version n of mount/path, as `vault kv destroy -versions=n`.
func (f *Fake) Destroy(mount, path string, n int) {
	f.do(func() {
		v := f.secrets[mount+"/"+path].versions[n-1]
		v.destroyed, v.data = true, nil
	})
}

// Latest returns the data of the newest version of mount/path (nil if none), as a plain
// `vault kv get` would.
func (f *Fake) Latest(mount, path string) map[string]any {
	var out map[string]any
	f.do(func() {
		if s := f.secrets[mount+"/"+path]; s != nil && len(s.versions) > 0 {
			out = s.versions[len(s.versions)-1].data
		}
	})
	return out
}

// CurrentVersion returns the newest version number of mount/path, 0 if none.
func (f *Fake) CurrentVersion(mount, path string) int {
	var n int
	f.do(func() {
		if s := f.secrets[mount+"/"+path]; s != nil {
			n = len(s.versions)
		}
	})
	return n
}

func (f *Fake) do(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	before, sealed := f.before, f.sealed
	f.mu.Unlock()
	if before != nil {
		before(r)
		f.mu.Lock()
		sealed = f.sealed
		f.mu.Unlock()
	}
	if sealed {
		fail(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	var body map[string]any
	if r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodPut) {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			fail(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
			return
		}
	}
	p := strings.TrimPrefix(r.URL.Path, "/v1/")
	f.mu.Lock()
	defer f.mu.Unlock()
	if p == "auth/approle/login" && r.Method != http.MethodGet {
		f.login(w, body)
		return
	}
	write, ok := f.tokens[r.Header.Get("X-Vault-Token")]
	if !ok {
		fail(w, http.StatusForbidden, "permission denied")
		return
	}
	if p == "sys/capabilities-self" {
		f.capabilities(w, body, write)
		return
	}
	mount, rest, _ := strings.Cut(p, "/")
	kind, path, _ := strings.Cut(rest, "/")
	if !f.mounts[mount] || path == "" || (kind != "data" && kind != "metadata") {
		fail(w, http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", p))
		return
	}
	isWrite := r.Method == http.MethodPost || r.Method == http.MethodPut
	if isWrite && !write {
		fail(w, http.StatusForbidden, "permission denied")
		return
	}
	key := mount + "/" + path
	switch {
	case kind == "data" && r.Method == http.MethodGet:
		f.readData(w, r, key)
	case kind == "data" && isWrite:
		f.writeData(w, body, key)
	case kind == "metadata" && r.Method == http.MethodGet:
		f.readMeta(w, key)
	case kind == "metadata" && isWrite:
		f.writeMeta(w, body, key)
	default:
		fail(w, http.StatusMethodNotAllowed, "unsupported operation")
	}
}

func (f *Fake) login(w http.ResponseWriter, body map[string]any) {
	role, _ := body["role_id"].(string)
	sid, _ := body["secret_id"].(string)
	want, ok := f.approles[role]
	if !ok || want != sid {
		fail(w, http.StatusBadRequest, "invalid role or secret ID")
		return
	}
	f.issued++
	tok := fmt.Sprintf("hvs.fake-approle-%d", f.issued)
	f.tokens[tok] = true
	reply(w, http.StatusOK, map[string]any{"auth": map[string]any{
		"client_token": tok, "accessor": "fake", "policies": []string{"default"}, "lease_duration": 3600, "renewable": true,
	}})
}

func (f *Fake) capabilities(w http.ResponseWriter, body map[string]any, write bool) {
	caps := []string{"read"}
	if write {
		caps = []string{"create", "read", "update"}
	}
	data := map[string]any{"capabilities": caps}
	paths, _ := body["paths"].([]any)
	for _, p := range paths {
		if s, ok := p.(string); ok {
			data[s] = caps
		}
	}
	reply(w, http.StatusOK, map[string]any{"data": data})
}

func (f *Fake) readData(w http.ResponseWriter, r *http.Request, key string) {
	s := f.secrets[key]
	if s == nil || len(s.versions) == 0 {
		fail(w, http.StatusNotFound)
		return
	}
	n := len(s.versions)
	if q := r.URL.Query().Get("version"); q != "" && q != "0" {
		var err error
		if n, err = strconv.Atoi(q); err != nil {
			fail(w, http.StatusBadRequest, "invalid version")
			return
		}
	}
	if n < 1 || n > len(s.versions) || s.versions[n-1].removed {
		fail(w, http.StatusNotFound)
		return
	}
	v := s.versions[n-1]
	meta := versionMeta(s, n)
	if !v.deleted.IsZero() || v.destroyed {
		// Vault answers 404 with the version's metadata and no data.
		reply(w, http.StatusNotFound, map[string]any{"data": map[string]any{"data": nil, "metadata": meta}})
		return
	}
	reply(w, http.StatusOK, map[string]any{"data": map[string]any{"data": v.data, "metadata": meta}})
}

func (f *Fake) writeData(w http.ResponseWriter, body map[string]any, key string) {
	data, ok := body["data"].(map[string]any)
	if !ok {
		fail(w, http.StatusBadRequest, "no data provided")
		return
	}
	s := f.secrets[key]
	if s == nil {
		s = &secret{created: time.Now().UTC(), meta: map[string]any{}}
		f.secrets[key] = s
	}
	opts, _ := body["options"].(map[string]any)
	cas, hasCAS := opts["cas"]
	if !hasCAS && s.cas {
		fail(w, http.StatusBadRequest, "check-and-set parameter required for this call")
		return
	}
	if hasCAS {
		c, ok := cas.(float64)
		if !ok || int(c) != len(s.versions) {
			fail(w, http.StatusBadRequest, "check-and-set parameter did not match the current version")
			return
		}
	}
	now := time.Now().UTC()
	s.versions = append(s.versions, &version{data: data, created: now})
	s.updated = now
	max := s.max
	if max == 0 {
		max = 10 // the mount's default
	}
	for i := 0; i < len(s.versions)-max; i++ {
		s.versions[i].removed, s.versions[i].data = true, nil
	}
	reply(w, http.StatusOK, map[string]any{"data": versionMeta(s, len(s.versions))})
}

func (f *Fake) readMeta(w http.ResponseWriter, key string) {
	s := f.secrets[key]
	if s == nil {
		fail(w, http.StatusNotFound)
		return
	}
	versions := map[string]any{}
	oldest := 0
	for i, v := range s.versions {
		if v.removed {
			continue
		}
		if oldest == 0 {
			oldest = i + 1
		}
		versions[strconv.Itoa(i+1)] = map[string]any{"created_time": v.created, "deletion_time": deletion(v), "destroyed": v.destroyed}
	}
	reply(w, http.StatusOK, map[string]any{"data": map[string]any{
		"cas_required": s.cas, "created_time": s.created, "current_version": len(s.versions), "custom_metadata": s.meta,
		"delete_version_after": "0s", "max_versions": s.max, "oldest_version": oldest, "updated_time": s.updated, "versions": versions,
	}})
}

func (f *Fake) writeMeta(w http.ResponseWriter, body map[string]any, key string) {
	s := f.secrets[key]
	if s == nil {
		s = &secret{created: time.Now().UTC(), meta: map[string]any{}}
		f.secrets[key] = s
	}
	if cm, ok := body["custom_metadata"].(map[string]any); ok {
		if len(cm) > 64 {
			fail(w, http.StatusBadRequest, "custom_metadata: exceeds maximum number of keys (64)")
			return
		}
		for k, v := range cm {
			str, _ := v.(string)
			if len(k) > 128 || len(str) > 512 {
				fail(w, http.StatusBadRequest, "custom_metadata: key or value too long")
				return
			}
		}
		s.meta = cm
	}
	if c, ok := body["cas_required"].(bool); ok {
		s.cas = c
	}
	if m, ok := body["max_versions"].(float64); ok {
		s.max = int(m)
	}
	s.updated = time.Now().UTC()
	w.WriteHeader(http.StatusNoContent)
}

func versionMeta(s *secret, n int) map[string]any {
	v := s.versions[n-1]
	return map[string]any{"created_time": v.created, "custom_metadata": s.meta, "deletion_time": deletion(v), "destroyed": v.destroyed, "version": n}
}

func deletion(v *version) string {
	if v.deleted.IsZero() {
		return ""
	}
	return v.deleted.Format(time.RFC3339Nano)
}

// fail answers as Vault does: {"errors":[...]}, an empty list for a plain 404.
func fail(w http.ResponseWriter, code int, errs ...string) {
	if errs == nil {
		errs = []string{}
	}
	reply(w, code, map[string]any{"errors": errs})
}

func reply(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
