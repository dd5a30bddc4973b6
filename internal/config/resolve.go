package config

import (
	"fmt"
	"os"
	"strings"
)

// Resolve reads the value a reference points at. field names the reference in errors.
func (c *Config) Resolve(field string, r Ref) (string, error) {
	switch {
	case r.Env != "":
		v, ok := os.LookupEnv(r.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("%s: env var %s is not set", field, r.Env)
		}
		return v, nil
	case r.File != "":
		b, err := os.ReadFile(c.Abs(r.File))
		if err != nil {
			return "", fmt.Errorf("%s: %w", field, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s: file %s is empty", field, r.File)
		}
		return v, nil
	default:
		return "", fmt.Errorf("%s: no env or file reference", field)
	}
}

// CheckRefs resolves every reference of a target and reports the first that fails, by field name.
func (c *Config) CheckRefs(t *Target) error {
	type fieldRef struct {
		field string
		ref   Ref
	}
	refs := []fieldRef{{"admin.token", t.Admin.Token}, {"probe.password", t.Probe.Password}}
	if t.Probe.AdminUsername != "" {
		refs = append(refs, fieldRef{"probe.admin_password", t.Probe.AdminPassword})
	}
	for _, r := range refs {
		if _, err := c.Resolve("targets."+t.Name+"."+r.field, r.ref); err != nil {
			return err
		}
	}
	for h, env := range t.Deployer.HeadersFromEnv {
		if os.Getenv(env) == "" {
			return fmt.Errorf("targets.%s.deployer.headers_from_env.%s: env var %s is not set", t.Name, h, env)
		}
	}
	return nil
}
