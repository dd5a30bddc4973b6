package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Controls are the places a target's traffic can be cut besides its own control API (admin).
type Controls struct {
	// Edge is the reverse proxy in front of the backend; nil when there is none.
	Edge *Edge `yaml:"edge"`
}

// Edge is an nginx in front of the backend. Denied ranges and restricted routes are written to
// Include, which the proxy's server block includes, checked with Test and loaded with Reload.
type Edge struct {
	Kind string `yaml:"kind"` // nginx
	// Include is the file authops owns; relative to the config file.
	Include string `yaml:"include"`
	// Test checks the whole proxy config with the new include in place (nginx -t, with the
	// proxy's own -p and -c); a failure puts the previous include back.
	Test []string `yaml:"test"`
	// Reload makes the running proxy load it (nginx -s reload, with the same -p and -c).
	Reload []string `yaml:"reload"`
	// URL is where the edge serves the target, to read each change back through it (default
	// base_url, for a base_url that already points at the proxy).
	URL string `yaml:"url"`
	// Timeout bounds each command (default 30s).
	Timeout Duration `yaml:"timeout"`
	// Readback bounds how long a change may take to answer through the proxy after a reload,
	// which nginx applies asynchronously (default 15s).
	Readback Duration `yaml:"readback_timeout"`
}

// EdgeURL is where the edge serves the target.
func (e *Edge) EdgeURL(t *Target) string {
	if e.URL != "" {
		return e.URL
	}
	return t.BaseURL
}

// edgeDefaults fills in what controls.edge leaves out.
func (t *Target) edgeDefaults() {
	e := t.Controls.Edge
	if e == nil {
		return
	}
	if e.Timeout == 0 {
		e.Timeout = Duration(30 * time.Second)
	}
	if e.Readback == 0 {
		e.Readback = Duration(15 * time.Second)
	}
}

// validateEdge checks controls.edge after defaults.
func (t *Target) validateEdge() error {
	e := t.Controls.Edge
	if e == nil {
		return nil
	}
	f := func(field, format string, a ...any) error {
		return fmt.Errorf("targets.%s.controls.edge.%s: %s", t.Name, field, fmt.Sprintf(format, a...))
	}
	if e.Kind != "nginx" {
		return f("kind", "must be \"nginx\", got %q", e.Kind)
	}
	if e.Include == "" {
		return f("include", "is required")
	}
	if strings.ContainsAny(e.Include, "\x00\n;{}'\"") {
		return f("include", "must be a plain path")
	}
	for _, c := range []struct {
		field string
		argv  []string
	}{{"test", e.Test}, {"reload", e.Reload}} {
		if len(c.argv) == 0 || c.argv[0] == "" {
			return f(c.field, "is required: a command such as [nginx, -p, DIR, -c, DIR/nginx.conf, %s]", map[string]string{"test": "-t", "reload": "-s, reload"}[c.field])
		}
	}
	if e.URL != "" {
		if u, err := url.Parse(e.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return f("url", "must be an http(s) URL, got %q", e.URL)
		}
	}
	return nil
}
