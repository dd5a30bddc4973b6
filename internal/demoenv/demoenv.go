// Package demoenv creates the local files the demo stack needs: the backend's env file with its
// JWT secret, the admin token, the demo users and their passwords, and the SSH keys the demo
// people sign with. It runs on every `make up` and only fills in what is missing, because the
// secret in backend.env may have been rotated since.
package demoenv

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/internal/atomicfile"
)

// The demo users; probes log in as UserProbe and UserProbeAdmin.
const (
	UserProbe      = "probe"
	UserProbeAdmin = "probe-admin"
	UserDemo       = "demo-user"
)

// The demo people, who request and decide runs; runbook.yaml names them with their keys.
const (
	PersonAlice = "alice"
	PersonBob   = "bob"
	PersonCarol = "carol"
)

// GatewayKey names the demo Slack gateway's signing key (keys/gateway, keys/gateway.pub):
// `starter serve` signs with it for Slack users and alerts, and runbook.yaml lists its public
// key under gateway.keys.
const GatewayKey = "gateway"

// People returns the demo people Prepare makes keys for.
func People() []string { return []string{PersonAlice, PersonBob, PersonCarol} }

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
	KeysDir        string // keys/<person> and keys/<person>.pub, the demo people's SSH keys
}

// KeyFile is where a demo person's private SSH key is kept, in OpenSSH format.
func (p Paths) KeyFile(person string) string {
	return filepath.Join(p.KeysDir, person)
}

// PublicKeyFile is where a demo person's public SSH key is kept, as an authorized_keys line.
func (p Paths) PublicKeyFile(person string) string {
	return p.KeyFile(person) + ".pub"
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
		KeysDir:        filepath.Join(abs, "keys"),
	}, nil
}

// Prepare creates the demo files in dir, once: a file that already exists is never rewritten,
// only its mode is tightened. Directories are 0700 and files 0600.
func Prepare(dir string) (Paths, error) {
	p, err := NewPaths(dir)
	if err != nil {
		return Paths{}, err
	}
	for _, d := range []string{p.Dir, p.PasswordsDir, p.SecretsDir, p.KeysDir} {
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
	for _, person := range append(People(), GatewayKey) {
		if err := prepareKey(p, person); err != nil {
			return Paths{}, err
		}
	}
	return p, nil
}

// prepareKey creates a person's ed25519 key pair once. The public key is always derived from the
// private key on disk, so that a concurrent Prepare that wrote the private key first wins whole.
func prepareKey(p Paths, person string) error {
	privPath, pubPath := p.KeyFile(person), p.PublicKeyFile(person)
	if _, err := os.Stat(privPath); errors.Is(err, fs.ErrNotExist) {
		// A new private key would not match the public key that may already be trusted.
		if _, err := os.Stat(pubPath); err == nil {
			return fmt.Errorf("demoenv: %s has no private key %s; remove it to regenerate", pubPath, privPath)
		}
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return fmt.Errorf("demoenv: generate key for %s: %w", person, err)
		}
		block, err := ssh.MarshalPrivateKey(priv, keyComment(person))
		if err != nil {
			return fmt.Errorf("demoenv: encode key for %s: %w", person, err)
		}
		if err := writeOnce(privPath, pem.EncodeToMemory(block)); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("demoenv: stat %s: %w", privPath, err)
	} else if err := tightenMode(privPath); err != nil {
		return err
	}

	b, err := os.ReadFile(privPath)
	if err != nil {
		return fmt.Errorf("demoenv: read key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return fmt.Errorf("demoenv: parse %s: remove it and %s to regenerate: %w", privPath, pubPath, err)
	}
	pub := signer.PublicKey()
	line := bytes.TrimSpace(ssh.MarshalAuthorizedKey(pub))
	if err := writeOnce(pubPath, fmt.Appendf(line, " %s\n", keyComment(person))); err != nil {
		return err
	}
	b, err = os.ReadFile(pubPath)
	if err != nil {
		return fmt.Errorf("demoenv: read public key: %w", err)
	}
	if got, _, _, _, err := ssh.ParseAuthorizedKey(b); err != nil || !bytes.Equal(got.Marshal(), pub.Marshal()) {
		return fmt.Errorf("demoenv: %s does not match %s; remove both to regenerate", pubPath, privPath)
	}
	return nil
}

func keyComment(person string) string { return person + "@authops-demo" }

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
