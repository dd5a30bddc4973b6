package config

import (
	"fmt"
	"slices"
)

// AlertsConfig tunes the gateway's Alertmanager webhook; every key has a default.
type AlertsConfig struct {
	// DefaultTargets are the targets an alert with no target label declares its incident for.
	// Empty (the default): such an incident freezes nothing until its owner names the targets.
	DefaultTargets []string `yaml:"default_targets"`
	// MaxOpen bounds the incidents alerts hold open at once (default 3); past it, an alert
	// becomes a note on the newest open alert incident.
	MaxOpen int `yaml:"max_open"`
}

// Alert defaults and bounds.
const (
	DefaultAlertsMaxOpen = 3
	// MaxAlertsMaxOpen keeps the gateway's per-alert describe of every slot cheap.
	MaxAlertsMaxOpen = 50
)

func (a *AlertsConfig) defaults() {
	if a.MaxOpen == 0 {
		a.MaxOpen = DefaultAlertsMaxOpen
	}
}

func (a *AlertsConfig) validate(c *Config) error {
	if a.MaxOpen < 1 || a.MaxOpen > MaxAlertsMaxOpen {
		return fmt.Errorf("alerts.max_open: must be between 1 and %d, got %d", MaxAlertsMaxOpen, a.MaxOpen)
	}
	for i, t := range a.DefaultTargets {
		if _, err := c.Target(t); err != nil {
			return fmt.Errorf("alerts.default_targets[%d]: %w", i, err)
		}
		if slices.Contains(a.DefaultTargets[:i], t) {
			return fmt.Errorf("alerts.default_targets[%d]: %s is listed twice", i, t)
		}
	}
	return nil
}
