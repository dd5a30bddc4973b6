package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Load reads, defaults and validates a config file. It does not resolve secret references.
func Load(path string) (*Config, error) { return load(path, Parse) }

// load reads the file at path and parses it with parse, relative paths taken from its directory.
func load(path string, parse func(b []byte, dir string) (*Config, error)) (*Config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("config file %s not found: pass --config or set %s", path, EnvVar)
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config path: %w", err)
	}
	c, err := parse(b, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a config. Unknown keys are errors, so a typo never silently disables a control.
func Parse(b []byte, dir string) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if err := checkSchema(&doc); err != nil {
		return nil, err
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	c.Dir = dir
	if len(c.Targets) == 0 {
		return nil, errors.New("targets: at least one target is required")
	}
	if err := c.validatePeople(); err != nil {
		return nil, err
	}
	if c.Gateway != nil {
		if len(c.Gateway.Keys) == 0 {
			return nil, errors.New("gateway.keys: at least one key is required")
		}
		for i, k := range c.Gateway.Keys {
			if err := checkKey(fmt.Sprintf("gateway.keys[%d]", i), k); err != nil {
				return nil, err
			}
		}
	}
	// Sorted, so that the same file always reports the same first error.
	for _, name := range c.TargetNames() {
		t := c.Targets[name]
		if t == nil {
			return nil, fmt.Errorf("targets.%s: empty target", name)
		}
		t.Name = name
		t.defaults()
		if err := t.validate(c.PeopleByName); err != nil {
			return nil, err
		}
	}
	c.Incident.defaults()
	if err := c.Incident.validate(c.PeopleByName, c.Approvers()); err != nil {
		return nil, err
	}
	if err := c.validateIncidentChannel(); err != nil {
		return nil, err
	}
	c.Alerts.defaults()
	if err := c.Alerts.validate(&c); err != nil {
		return nil, err
	}
	return &c, nil
}
