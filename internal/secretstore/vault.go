package secretstore

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// VaultConfig names one secret in a Vault KV v2 mount and how to log in. Exactly one of Token or
// RoleID with SecretID is set.
type VaultConfig struct {
	Address string
	Mount   string
	Path    string

	Token    string
	RoleID   string
	SecretID string

	// HTTP is the client Vault is reached with; nil means the Vault client's own, with TLS as
	// Vault's environment variables say. Requests time out after 10s either way.
	HTTP *http.Client
}

// Vault is the store of one secret's versions in a Vault KV v2 mount. Versions are KV versions
// (the id is the version number), their stages live in the secret's custom metadata, and every
// data write carries a check-and-set version, so that of two concurrent writers one fails. Values
// are read and written here only: callers pass the version id and the fingerprint.
type Vault struct {
	c     *vault.Client
	kv    *vault.KVv2
	mount string
	path  string
	fpKey []byte
}

// fingerprintKeySuffix names the sibling secret that holds the fingerprint key: in Vault, not on
// a worker's disk, so that every worker computes the same fingerprints.
const fingerprintKeySuffix = ".fingerprint-key"

// OpenVault logs in to Vault and opens the store of cfg's secret, creating its fingerprint key
// on first use. Bad config is an error that names the field; errors never contain the token,
// the secret id or a value.
func OpenVault(ctx context.Context, cfg VaultConfig) (*Vault, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("secretstore vault: %w", err)
	}
	// DefaultConfig reads Vault's TLS settings (VAULT_CACERT, ...) from the environment; the
	// address, the token and the namespace are the config's only.
	vc := vault.DefaultConfig()
	if vc.Error != nil {
		return nil, fmt.Errorf("secretstore vault: %w", vc.Error)
	}
	vc.Address = cfg.Address
	// Temporal retries the activity; the client's own retries would only hide an outage.
	vc.MaxRetries = 0
	vc.Timeout = 10 * time.Second
	if cfg.HTTP != nil {
		vc.HttpClient = cfg.HTTP
	}
	c, err := vault.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("secretstore vault: client for %s: %w", cfg.Address, err)
	}
	c.ClearNamespace()
	c.SetClientTimeout(vc.Timeout) // NewClient lets VAULT_CLIENT_TIMEOUT override it
	v := &Vault{c: c, kv: c.KVv2(cfg.Mount), mount: cfg.Mount, path: cfg.Path}
	if err := v.login(ctx, cfg); err != nil {
		return nil, v.wrap("login", err)
	}
	if v.fpKey, err = v.loadOrCreateKey(ctx); err != nil {
		return nil, v.wrap("open", err)
	}
	return v, nil
}

func (cfg VaultConfig) check() error {
	switch {
	case cfg.Address == "":
		return errors.New("address is required")
	case cfg.Mount == "":
		return errors.New("mount is required")
	case cfg.Path == "":
		return errors.New("path is required")
	case cfg.Token != "" && (cfg.RoleID != "" || cfg.SecretID != ""):
		return errors.New("give either a token or an approle, not both")
	case cfg.Token == "" && (cfg.RoleID == "" || cfg.SecretID == ""):
		return errors.New("a token, or an approle role_id and secret_id, is required")
	}
	return nil
}

// login sets the client's token: the configured one, or one from an AppRole login.
func (v *Vault) login(ctx context.Context, cfg VaultConfig) error {
	if cfg.Token != "" {
		v.c.SetToken(cfg.Token)
		return nil
	}
	v.c.ClearToken()
	s, err := v.c.Logical().WriteWithContext(ctx, "auth/approle/login", map[string]any{
		"role_id": cfg.RoleID, "secret_id": cfg.SecretID,
	})
	if err != nil {
		return fmt.Errorf("approle login: %w", classify(err))
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return errors.New("approle login: vault returned no token")
	}
	v.c.SetToken(s.Auth.ClientToken)
	return nil
}

// Fingerprint returns a keyed hash prefix of value, the same on every worker.
func (v *Vault) Fingerprint(value string) string {
	m := hmac.New(sha256.New, v.fpKey)
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))[:fingerprintLen]
}

// loadOrCreateKey reads the fingerprint key, or creates it with cas=0 (only if absent): when two
// workers race, the loser reads the winner's key.
func (v *Vault) loadOrCreateKey(ctx context.Context) ([]byte, error) {
	p := v.path + fingerprintKeySuffix
	for range 2 {
		s, err := v.kv.Get(ctx, p)
		if err == nil {
			raw, _ := s.Data["key"].(string)
			key, derr := base64.StdEncoding.DecodeString(raw)
			if derr != nil || len(key) != fingerprintKeyLen {
				return nil, fmt.Errorf("fingerprint key %s/%s is corrupt", v.mount, p)
			}
			return key, nil
		}
		if !errors.Is(err, vault.ErrSecretNotFound) {
			return nil, fmt.Errorf("read fingerprint key: %w", classify(err))
		}
		key := make([]byte, fingerprintKeyLen)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generate fingerprint key: %w", err)
		}
		_, err = v.kv.Put(ctx, p, map[string]any{"key": base64.StdEncoding.EncodeToString(key)}, vault.WithCheckAndSet(0))
		if err == nil {
			return key, nil
		}
		if err = classify(err); !errors.Is(err, ErrConflict) {
			return nil, fmt.Errorf("install fingerprint key: %w", err)
		}
		// another worker won: read its key
	}
	return nil, fmt.Errorf("install fingerprint key: %w", ErrConflict)
}

// CheckWritable proves that Vault is reachable and that the token may read and write the
// secret's data and metadata, without writing anything.
func (v *Vault) CheckWritable(ctx context.Context) error {
	paths := []string{v.mount + "/data/" + v.path, v.mount + "/metadata/" + v.path}
	s, err := v.c.Logical().WriteWithContext(ctx, "sys/capabilities-self", map[string]any{"paths": paths})
	if err != nil {
		return v.wrap("check writable", classify(err))
	}
	for _, p := range paths {
		caps := map[string]bool{}
		if s != nil {
			list, _ := s.Data[p].([]any)
			for _, c := range list {
				if c, ok := c.(string); ok {
					caps[c] = true
				}
			}
		}
		if !caps["root"] && !(caps["read"] && (caps["create"] || caps["update"])) {
			return v.wrap("check writable", fmt.Errorf("%w: the token may not read and write %s", ErrDenied, p))
		}
	}
	return nil
}

// classify maps a Vault client error to the store's errors, keeping Vault's own messages (which
// never echo a value or a token) and dropping the request URL's noise.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var re *vault.ResponseError
	if !errors.As(err, &re) {
		// No answer at all: connection refused, reset, timeout.
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	msg := strings.Join(re.Errors, "; ")
	switch {
	case re.StatusCode == http.StatusBadRequest && strings.Contains(msg, "check-and-set parameter did not match"):
		return fmt.Errorf("%w (vault: %s)", ErrConflict, msg)
	case re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: vault answered %d %q: the token expired, was revoked or lacks the policy", ErrDenied, re.StatusCode, msg)
	case re.StatusCode >= 500 || re.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%w: vault answered %d %q", ErrUnavailable, re.StatusCode, msg)
	}
	return fmt.Errorf("vault answered %d %q", re.StatusCode, msg)
}

// wrap prefixes err with the package, the secret and the operation.
func (v *Vault) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("secretstore vault %s/%s: %s: %w", v.mount, v.path, op, err)
}
