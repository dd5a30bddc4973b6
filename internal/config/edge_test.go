package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// withEdge is the minimal config with a controls.edge section under the demo target.
func withEdge(edge string) string {
	return strings.Replace(minimal, "    approvers: [alice, bob]\n", "    approvers: [alice, bob]\n    controls:\n      edge: "+edge+"\n", 1)
}

func TestParse_Edge(t *testing.T) {
	c, err := Parse([]byte(minimal), t.TempDir())
	require.NoError(t, err)
	require.Nil(t, c.Targets["demo"].Controls.Edge, "no edge unless configured")

	c, err = Parse([]byte(withEdge(`{kind: nginx, include: var/edge.conf, test: [nginx, -t, -p, /srv/nginx, -c, /srv/nginx/nginx.conf], reload: [nginx, -s, reload]}`)), t.TempDir())
	require.NoError(t, err)
	e := c.Targets["demo"].Controls.Edge
	require.NotNil(t, e)
	require.Equal(t, "var/edge.conf", e.Include)
	require.Equal(t, []string{"nginx", "-s", "reload"}, e.Reload)
	require.Equal(t, 30*time.Second, e.Timeout.D())
	require.Equal(t, 15*time.Second, e.Readback.D())
	require.Equal(t, "http://127.0.0.1:8081", e.EdgeURL(c.Targets["demo"]), "read back through base_url by default")

	c, err = Parse([]byte(withEdge(`{kind: nginx, include: e.conf, test: [nginx, -t], reload: [nginx, -s, reload], url: "http://127.0.0.1:8080", readback_timeout: 1m}`)), t.TempDir())
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:8080", c.Targets["demo"].Controls.Edge.EdgeURL(c.Targets["demo"]))
	require.Equal(t, time.Minute, c.Targets["demo"].Controls.Edge.Readback.D())
}

func TestParse_BadEdge(t *testing.T) {
	for edge, want := range map[string]string{
		`{kind: haproxy, include: e.conf, test: [x], reload: [x]}`:                       `controls.edge.kind: must be "nginx"`,
		`{kind: nginx, test: [x], reload: [x]}`:                                          "controls.edge.include: is required",
		`{kind: nginx, include: "e;conf", test: [x], reload: [x]}`:                       "controls.edge.include: must be a plain path",
		`{kind: nginx, include: e.conf, reload: [x]}`:                                    "controls.edge.test: is required",
		`{kind: nginx, include: e.conf, test: [x]}`:                                      "controls.edge.reload: is required",
		`{kind: nginx, include: e.conf, test: [x], reload: [x], url: "ftp://x"}`:         "controls.edge.url: must be an http(s) URL",
		`{kind: nginx, include: e.conf, test: [x], reload: [x], readback_timeout: soon}`: "controls.edge.readback_timeout",
		`{kind: nginx, include: e.conf, test: [x], reload: [x], reloads: [x]}`:           "controls.edge.reloads: unknown key",
	} {
		_, err := Parse([]byte(withEdge(edge)), t.TempDir())
		require.ErrorContains(t, err, want, edge)
		require.ErrorContains(t, err, "targets.demo.", edge)
	}
}
