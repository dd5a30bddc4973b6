package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

const (
	secretEnv     = "JWT_SECRET"
	adminTokenEnv = "AUTHBACKEND_ADMIN_TOKEN"
)

// loadSecret returns JWT_SECRET from the env file when it has one, else from
// the process environment.
func loadSecret(envFile string, getenv func(string) string) ([]byte, error) {
	secret := ""
	if envFile != "" {
		vars, err := readEnvFile(envFile)
		if err != nil {
			return nil, err
		}
		secret = vars[secretEnv]
	}
	if secret == "" {
		secret = getenv(secretEnv)
	}
	// The messages name the variable and the rule, never the value.
	switch {
	case secret == "":
		return nil, fmt.Errorf("%s is missing: set it in --env-file or the environment (at least %d bytes)",
			secretEnv, minSecretBytes)
	case len(secret) < minSecretBytes:
		return nil, fmt.Errorf("%s is shorter than the %d-byte minimum: set a longer one in --env-file or the environment",
			secretEnv, minSecretBytes)
	}
	return []byte(secret), nil
}

// readEnvFile parses a dotenv file: KEY=VALUE lines, blank lines and #
// comments, an optional "export " prefix and optional quotes around values.
// Errors name the line number only, since a value may be a secret.
func readEnvFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("env file %s line %d: want KEY=VALUE", path, n)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		vars[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read env file %s: %w", path, err)
	}
	return vars, nil
}

// loadAdminToken reads the admin token from file, else from the environment.
// An empty result means the control API is off.
func loadAdminToken(file string, getenv func(string) string) (string, error) {
	if file == "" {
		return strings.TrimSpace(getenv(adminTokenEnv)), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read admin token file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("admin token file %s is empty", file)
	}
	return token, nil
}
