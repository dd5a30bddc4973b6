// Package demoenv creates the local files the demo stack needs: the backend's env file with its
// JWT secret, the admin token, the demo users and their passwords. It runs on every `make up` and
// only fills in what is missing, because the secret in backend.env may have been rotated since.
package demoenv

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/authops/authops/internal/atomicfile"
)

// The demo users; probes log in as UserProbe and UserProbeAdmin.
const (
	UserProbe      = "probe"
	UserProbeAdmin = "probe-admin"
	UserDemo       = "demo-user"
)

const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600

	// randomBytes is the entropy of every generated secret, token and password.
	randomBytes = 32
)

// Paths are the files of a prepared demo directory. All paths are absolute.
type Paths struct {
	Dir            string
	EnvFile        string // backend.env: JWT_SECRET=...
	UsersFile      string // users.json, read by the backend
	AdminTokenFile string // admin.token for the backend's /_control API
	StateFile      string // state.json, written by the backend
	PidFile        string // authbackend.pid, written by the backend
	PasswordsDir   string // passwords/<user>, plaintext for the probes
	SecretsDir     string // secrets/, the file secret store
}

// PasswordFile is where the plaintext password of a demo user is kept.
func (p Paths) PasswordFile(user string) string {
	return filepath.Join(p.PasswordsDir, user)
}

// user is one entry of users.json, in the shape the backend reads.
type user struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

// demoUsers returns the users Prepare creates.
func demoUsers() []user {
	return []user{
		{Username: UserProbe, Role: "user"},
		{Username: UserProbeAdmin, Role: "admin"},
		{Username: UserDemo, Role: "user"},
	}
}

// NewPaths returns the paths of a demo directory without touching the disk.
func NewPaths(dir string) (Paths, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Paths{}, fmt.Errorf("demoenv: resolve %q: %w", dir, err)
	}
	return Paths{
		Dir:            abs,
		EnvFile:        filepath.Join(abs, "backend.env"),
		UsersFile:      filepath.Join(abs, "users.json"),
		AdminTokenFile: filepath.Join(abs, "admin.token"),
		StateFile:      filepath.Join(abs, "state.json"),
		PidFile:        filepath.Join(abs, "authbackend.pid"),
		PasswordsDir:   filepath.Join(abs, "passwords"),
		SecretsDir:     filepath.Join(abs, "secrets"),
	}, nil
}

// Prepare creates the demo files in dir, once: a file that already exists is never rewritten,
// only its mode is tightened. Directories are 0700 and files 0600.
func Prepare(dir string) (Paths, error) {
	p, err := NewPaths(dir)
	if err != nil {
		return Paths{}, err
	}
	for _, d := range []string{p.Dir, p.PasswordsDir, p.SecretsDir} {
		if err := ensureDir(d); err != nil {
			return Paths{}, err
		}
	}

	secret, err := randomString()
	if err != nil {
		return Paths{}, err
	}
	if err := writeOnce(p.EnvFile, []byte("JWT_SECRET="+secret+"\n")); err != nil {
		return Paths{}, err
	}
	token, err := randomString()
	if err != nil {
		return Paths{}, err
	}
	if err := writeOnce(p.AdminTokenFile, []byte(token)); err != nil {
		return Paths{}, err
	}
	if err := prepareUsers(p); err != nil {
		return Paths{}, err
	}
	return p, nil
}

// prepareUsers keeps users.json and passwords/<user> in agreement. Whichever side exists wins, so
// that deleting only one of them does not lock the probes out.
func prepareUsers(p Paths) error {
	existing, err := readUsers(p.UsersFile)
	if err != nil {
		return err
	}
	users := demoUsers()
	for i := range users {
		u := &users[i]
		fromFile, err := readPassword(p.PasswordFile(u.Username))
		if err != nil {
			return err
		}
		switch {
		case existing != nil:
			known, ok := existing[u.Username]
			if !ok {
				return fmt.Errorf("demoenv: %s has no user %q; remove %s to regenerate the demo users",
					p.UsersFile, u.Username, p.Dir)
			}
			if fromFile != "" && fromFile != known.Password {
				return fmt.Errorf("demoenv: %s does not match %s; remove both to regenerate",
					p.PasswordFile(u.Username), p.UsersFile)
			}
			u.Password = known.Password
		case fromFile != "":
			u.Password = fromFile
		default:
			if u.Password, err = randomString(); err != nil {
				return err
			}
		}
		if err := writeOnce(p.PasswordFile(u.Username), []byte(u.Password)); err != nil {
			return err
		}
	}
	if existing != nil {
		return tightenMode(p.UsersFile)
	}
	data, err := json.MarshalIndent(users, "", "  ")
	if err != nil {
		return fmt.Errorf("demoenv: encode users: %w", err)
	}
	return writeOnce(p.UsersFile, append(data, '\n'))
}

// readUsers returns nil, nil when the file does not exist.
func readUsers(path string) (map[string]user, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("demoenv: read users: %w", err)
	}
	var list []user
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("demoenv: parse %s: %w", path, err)
	}
	byName := make(map[string]user, len(list))
	for _, u := range list {
		byName[u.Username] = u
	}
	return byName, nil
}

// readPassword returns "" when the file does not exist.
func readPassword(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("demoenv: read password: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

func randomString() (string, error) {
	b := make([]byte, randomBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("demoenv: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("demoenv: create %s: %w", dir, err)
	}
	// MkdirAll leaves the mode of an existing directory alone.
	if err := os.Chmod(dir, dirMode); err != nil {
		return fmt.Errorf("demoenv: chmod %s: %w", dir, err)
	}
	return nil
}

func tightenMode(path string) error {
	if err := os.Chmod(path, fileMode); err != nil {
		return fmt.Errorf("demoenv: chmod %s: %w", path, err)
	}
	return nil
}

// writeOnce atomically creates path with data unless it already exists, in which case only its mode
// is tightened. atomicfile.Create links a synced temp file into place: unlike rename, link refuses
// to replace an existing file, so a concurrent Prepare or a rotation can never be overwritten.
func writeOnce(path string, data []byte) error {
	created, err := atomicfile.Create(path, data, fileMode)
	if err != nil {
		return fmt.Errorf("demoenv: create %s: %w", path, err)
	}
	if !created {
		return tightenMode(path)
	}
	return nil
}
