package demoenv

import (
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareCreatesFilesWithModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "demo")
	p, err := Prepare(dir)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}

	for _, d := range []string{p.Dir, p.PasswordsDir, p.SecretsDir, p.KeysDir} {
		assertMode(t, d, fs.ModeDir|0o700)
	}
	files := []string{p.EnvFile, p.AdminTokenFile, p.UsersFile}
	for _, u := range demoUsers() {
		files = append(files, p.PasswordFile(u.Username))
	}
	for _, person := range People() {
		files = append(files, p.KeyFile(person), p.PublicKeyFile(person))
	}
	for _, f := range files {
		assertMode(t, f, 0o600)
	}

	// The backend writes these; Prepare only names them.
	for _, f := range []string{p.StateFile, p.PidFile} {
		if filepath.Dir(f) != p.Dir {
			t.Errorf("%s is not in %s", f, p.Dir)
		}
	}
	if !filepath.IsAbs(p.Dir) {
		t.Errorf("Dir %q is not absolute", p.Dir)
	}
	assertNoTempFiles(t, p.Dir)
	assertNoTempFiles(t, p.PasswordsDir)
	assertNoTempFiles(t, p.KeysDir)
	if want := filepath.Join(p.Dir, "keys", "alice.pub"); p.PublicKeyFile(PersonAlice) != want {
		t.Errorf("PublicKeyFile(alice) = %s, want %s", p.PublicKeyFile(PersonAlice), want)
	}
}

func TestPrepareSecretsAreLongAndRandom(t *testing.T) {
	p1, err := Prepare(t.TempDir())
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	p2, err := Prepare(t.TempDir())
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}

	s1, s2 := jwtSecret(t, p1), jwtSecret(t, p2)
	for _, s := range []string{s1, s2} {
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("JWT_SECRET is not base64url: %v", err)
		}
		if len(raw) < 32 || len(s) < 32 {
			t.Errorf("JWT_SECRET has %d random bytes (%d chars), want >= 32", len(raw), len(s))
		}
	}
	if s1 == s2 {
		t.Error("two directories got the same JWT_SECRET")
	}

	token := readFile(t, p1.AdminTokenFile)
	if raw, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(raw) < 32 {
		t.Errorf("admin token: %d bytes, err %v; want >= 32 random bytes", len(raw), err)
	}
	if token == s1 {
		t.Error("admin token equals JWT_SECRET")
	}
}

func TestPrepareUsersMatchPasswordFiles(t *testing.T) {
	p, err := Prepare(t.TempDir())
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	var users []user
	if err := json.Unmarshal([]byte(readFile(t, p.UsersFile)), &users); err != nil {
		t.Fatalf("users.json: %v", err)
	}
	wantRoles := map[string]string{UserProbe: "user", UserProbeAdmin: "admin", UserDemo: "user"}
	if len(users) != len(wantRoles) {
		t.Fatalf("got %d users, want %d", len(users), len(wantRoles))
	}
	seen := map[string]bool{}
	for _, u := range users {
		if wantRoles[u.Username] != u.Role {
			t.Errorf("user %q has role %q, want %q", u.Username, u.Role, wantRoles[u.Username])
		}
		if len(u.Password) < 32 {
			t.Errorf("user %q: password too short (%d chars)", u.Username, len(u.Password))
		}
		if seen[u.Password] {
			t.Errorf("user %q: password reused", u.Username)
		}
		seen[u.Password] = true
		if got := readFile(t, p.PasswordFile(u.Username)); got != u.Password {
			t.Errorf("user %q: password file does not match users.json", u.Username)
		}
	}
}

func TestPrepareIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	p, err := Prepare(dir)
	if err != nil {
		t.Fatalf("first Prepare: %v", err)
	}
	before := snapshot(t, p.Dir)

	p2, err := Prepare(dir)
	if err != nil {
		t.Fatalf("second Prepare: %v", err)
	}
	if p2 != p {
		t.Errorf("paths changed: %+v != %+v", p2, p)
	}
	after := snapshot(t, p.Dir)
	if len(after) != len(before) {
		t.Fatalf("second Prepare changed the file set: %d -> %d files", len(before), len(after))
	}
	for name, content := range before {
		if after[name] != content {
			t.Errorf("second Prepare changed %s", name)
		}
	}
}

func TestPrepareKeepsRotatedSecret(t *testing.T) {
	dir := t.TempDir()
	p, err := Prepare(dir)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	rotated := "JWT_SECRET=rotated-secret-rotated-secret-rotated-secret\n"
	if err := os.WriteFile(p.EnvFile, []byte(rotated), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p.Dir, 0o755); err != nil {
		t.Fatal(err)
	}

	if _, err := Prepare(dir); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if got := readFile(t, p.EnvFile); got != rotated {
		t.Errorf("backend.env was overwritten")
	}
	assertMode(t, p.EnvFile, 0o600)
	assertMode(t, p.Dir, fs.ModeDir|0o700)
}

func TestPrepareRestoresMissingPasswordFromUsers(t *testing.T) {
	dir := t.TempDir()
	p, err := Prepare(dir)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	want := readFile(t, p.PasswordFile(UserProbe))
	if err := os.Remove(p.PasswordFile(UserProbe)); err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(dir); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if got := readFile(t, p.PasswordFile(UserProbe)); got != want {
		t.Error("restored password differs from users.json")
	}
}

func TestPrepareRebuildsUsersFromPasswordFiles(t *testing.T) {
	dir := t.TempDir()
	p, err := Prepare(dir)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	want := readFile(t, p.PasswordFile(UserProbeAdmin))
	if err := os.Remove(p.UsersFile); err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(dir); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	users, err := readUsers(p.UsersFile)
	if err != nil {
		t.Fatal(err)
	}
	if users[UserProbeAdmin].Password != want {
		t.Error("rebuilt users.json lost the existing password")
	}
}

func TestPrepareRejectsMismatchedPassword(t *testing.T) {
	dir := t.TempDir()
	p, err := Prepare(dir)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if err := os.WriteFile(p.PasswordFile(UserDemo), []byte("something-else"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Prepare(dir)
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("got %v, want a mismatch error", err)
	}
	if strings.Contains(err.Error(), "something-else") {
		t.Error("error leaks the password")
	}
}

func jwtSecret(t *testing.T, p Paths) string {
	t.Helper()
	env := readFile(t, p.EnvFile)
	v, ok := strings.CutPrefix(strings.TrimSpace(env), "JWT_SECRET=")
	if !ok {
		t.Fatalf("backend.env has no JWT_SECRET line")
	}
	return v
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func assertMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (fs.ModeDir | fs.ModePerm); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

// snapshot maps every file under dir to its content and mode.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		content := ""
		if !d.IsDir() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			content = string(b)
		}
		files[path] = fi.Mode().String() + fi.ModTime().String() + "\x00" + content
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
