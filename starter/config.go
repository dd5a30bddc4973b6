package main

import (
	"slices"
	"sync"

	"github.com/authops/authops/internal/config"
)

// configOnce is the process's config, read once through loadConfig.
type configOnce struct {
	mu  sync.Mutex
	cfg *config.Config
	// read are the targets read in full (see config.LoadLight).
	read []string
}

// loadConfig is the CLI's one way to the config, read once per process: config.Path, then
// internal/config's light loader, which reads the people, the gateway, the target names and the
// targets named in full. It does not validate every target, which costs a third of a second at a
// thousand targets: the worker validates the target of each run (LoadPolicy), and the run fails
// at once on one it cannot load. A later call that names a target not read yet reads the file
// again, for the union. `starter serve` loads the whole config instead (serve.go).
func (a *app) loadConfig(targets ...string) (*config.Config, error) {
	a.cfg.mu.Lock()
	defer a.cfg.mu.Unlock()
	missing := false
	for _, t := range targets {
		missing = missing || !slices.Contains(a.cfg.read, t)
	}
	if a.cfg.cfg != nil && !missing {
		return a.cfg.cfg, nil
	}
	want := append(slices.Clone(a.cfg.read), targets...)
	cfg, err := config.LoadLight(config.Path(a.configPath), want...)
	if err != nil {
		return nil, err
	}
	a.cfg.cfg, a.cfg.read = cfg, want
	return cfg, nil
}

// checkTarget rejects an unknown target before anything is started. It reads the target names
// only; the worker validates the target itself.
func (a *app) checkTarget(name string) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	_, err = cfg.Target(name)
	return err
}

// loadWholeConfig is the gateway's way to the config: internal/config's loader, which validates
// all of it, at start and on SIGHUP. The gateway judges many requests by one load, and maps
// Slack users and alert targets from sections the light loader does not read.
func loadWholeConfig(path string) (*config.Config, error) {
	return config.Load(path)
}
