// Package config loads runbook.yaml: the targets the runbooks act on and their policies.
//
// The file holds no secret. Credentials are references (an env var or a file) that only the worker
// resolves, inside activities, so the starter can validate input without ever reading a secret.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvVar names the variable that overrides the default config path.
const EnvVar = "AUTHOPS_CONFIG"

// DefaultPath is used when neither --config nor AUTHOPS_CONFIG is given.
const DefaultPath = "runbook.yaml"

// Path returns the config path to use: flag, then AUTHOPS_CONFIG, then DefaultPath.
func Path(flag string) string {
	if flag != "" {
		return flag
	}
	if v := os.Getenv(EnvVar); v != "" {
		return v
	}
	return DefaultPath
}

// Target returns the named target or an error listing the known ones.
func (c *Config) Target(name string) (*Target, error) {
	if t, ok := c.Targets[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("unknown target %q (known: %s)", name, strings.Join(c.TargetNames(), ", "))
}

// TargetNames lists targets in order.
func (c *Config) TargetNames() []string {
	return sortedKeys(c.Targets)
}

// Abs resolves a path from the config against the config's directory.
func (c *Config) Abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// DefaultPeerKeyFile is the peer key's path when the config names none, relative to its directory.
const DefaultPeerKeyFile = "var/peer.key"

// PeerKeyPath is the peer key file, resolved against the config's directory.
func (c *Config) PeerKeyPath() string {
	if c.PeerKeyFile == "" {
		return c.Abs(DefaultPeerKeyFile)
	}
	return c.Abs(c.PeerKeyFile)
}
