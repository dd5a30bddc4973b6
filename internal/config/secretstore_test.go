package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const fileStore = "secret_store: {kind: file, dir: secrets, name: demo-jwt-secret}"

func TestVaultSecretStore(t *testing.T) {
	for _, store := range []string{
		"secret_store: {kind: vault, address: https://vault.internal:8200, mount: secret, path: authops/demo/jwt, auth: {token: {file: vault.token}}}",
		"secret_store: {kind: vault, address: http://127.0.0.1:8200, mount: kv, path: jwt, dir: state, auth: {approle: {role_id: authops-worker, secret_id: {env: VAULT_SECRET_ID}}}}",
	} {
		c, err := Parse([]byte(strings.Replace(minimal, fileStore, store, 1)), t.TempDir())
		require.NoError(t, err, store)
		s := c.Targets["demo"].SecretStore
		require.Equal(t, "vault", s.Kind)
		require.NotEmpty(t, s.Address)
		require.True(t, s.Auth.Token != nil || s.Auth.AppRole != nil)
	}
}

func TestVaultSecretStoreErrors(t *testing.T) {
	const base = "kind: vault, address: https://vault.internal:8200, mount: secret, path: authops/jwt"
	for _, tc := range []struct{ name, store, want string }{
		{"no address", "kind: vault, mount: secret, path: p, auth: {token: {file: t}}", "targets.demo.secret_store.address: is required for kind vault"},
		{"bad address", "kind: vault, address: vault:8200, mount: secret, path: p, auth: {token: {file: t}}", "targets.demo.secret_store.address: must be an http(s) URL"},
		{"no mount", "kind: vault, address: https://v:8200, path: p, auth: {token: {file: t}}", "targets.demo.secret_store.mount: is required for kind vault"},
		{"no path", "kind: vault, address: https://v:8200, mount: secret, auth: {token: {file: t}}", "targets.demo.secret_store.path: is required for kind vault"},
		{"slash path", base + "/, auth: {token: {file: t}}", "targets.demo.secret_store.path: is required for kind vault, without leading, trailing or double /"},
		{"no auth", base, "targets.demo.secret_store.auth: is required for kind vault"},
		{"both auths", base + ", auth: {token: {file: t}, approle: {role_id: r, secret_id: {file: s}}}", "targets.demo.secret_store.auth: give either token or approle, not both"},
		{"inline token", base + ", auth: {token: hvs.s3cr3t}", "targets.demo.secret_store.auth.token: must be a reference"},
		{"inline secret id", base + ", auth: {approle: {role_id: r, secret_id: s3cr3t}}", "targets.demo.secret_store.auth.approle.secret_id: must be a reference"},
		{"no role id", base + ", auth: {approle: {secret_id: {file: s}}}", "targets.demo.secret_store.auth.approle.role_id: is required"},
		{"unknown auth", base + ", auth: {ldap: {}}", "targets.demo.secret_store.auth.ldap: unknown key (known: token, approle)"},
		{"name with vault", base + ", name: x, auth: {token: {file: t}}", "targets.demo.secret_store.name: is only for kind file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(strings.Replace(minimal, fileStore, "secret_store: {"+tc.store+"}", 1)), t.TempDir())
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "s3cr3t")
		})
	}
}
