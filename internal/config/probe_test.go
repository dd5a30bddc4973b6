package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func withEndpoints(yaml string) string {
	return strings.Replace(minimal, "      password: {env: AUTHOPS_TEST_PROBE_PASSWORD}\n",
		"      password: {env: AUTHOPS_TEST_PROBE_PASSWORD}\n      endpoints:\n"+yaml, 1)
}

func TestProbeEndpoints(t *testing.T) {
	c, err := Parse([]byte(withEndpoints(`        login: {path: /api/login, username_field: user, password_field: pass, token_field: data.token, refresh_field: "-", cookie: "-"}
        identity: {path: /api/whoami, username_field: user.name}
`)), "/x")
	require.NoError(t, err)
	e := c.Targets["demo"].Probe.Endpoints
	require.Equal(t, "/api/login", e.Login.Path)
	require.Equal(t, "data.token", e.Login.TokenField)
	require.Equal(t, "-", e.Login.RefreshField)
	require.Equal(t, "user.name", e.Identity.UsernameField)

	c, err = Parse([]byte(minimal), "/x")
	require.NoError(t, err)
	require.Equal(t, ProbeEndpoints{}, c.Targets["demo"].Probe.Endpoints, "no endpoints: the demo's shape")
}

// Each bad endpoint setting is refused with the key and the reason.
func TestProbeEndpointsRefused(t *testing.T) {
	for _, tc := range []struct{ yaml, key string }{
		{"        login: {path: api/login}\n", "probe.endpoints.login.path"},
		{"        identity: {path: \"/me?x=1\"}\n", "probe.endpoints.identity.path"},
		{"        login: {token_field: data..token}\n", "probe.endpoints.login.token_field"},
		{"        login: {username_field: \"-\"}\n", "probe.endpoints.login.username_field"},
		{"        login: {cookie: \"a;b\"}\n", "probe.endpoints.login.cookie"},
		{"        login: {pathh: /x}\n", "pathh"},
	} {
		_, err := Parse([]byte(withEndpoints(tc.yaml)), "/x")
		require.Error(t, err, tc.yaml)
		require.Contains(t, err.Error(), tc.key)
	}
}
