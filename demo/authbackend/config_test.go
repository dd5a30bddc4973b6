package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// envOf is a getenv over a fixed map.
func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestReadEnvFile(t *testing.T) {
	p := writeTemp(t, "backend.env", `# demo backend
JWT_SECRET=abc=def==

export OTHER = spaced value
DOUBLE="quoted value"
SINGLE='single'
EMPTY=
`)
	vars, err := readEnvFile(p)
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		"JWT_SECRET": "abc=def==",
		"OTHER":      "spaced value",
		"DOUBLE":     "quoted value",
		"SINGLE":     "single",
		"EMPTY":      "",
	}, vars)

	_, err = readEnvFile(writeTemp(t, "bad.env", "OK=1\nthis-line-is-a-secret-value\n"))
	require.ErrorContains(t, err, "line 2")
	require.NotContains(t, err.Error(), "this-line-is-a-secret-value")

	_, err = readEnvFile(filepath.Join(t.TempDir(), "missing.env"))
	require.ErrorContains(t, err, "read env file")
}

func TestLoadSecret(t *testing.T) {
	const (
		fileSecret = "file-secret-0123456789abcdef0123456789"
		envSecret  = "env-secret-0123456789abcdef01234567890"
		short      = "short-secret-value"
	)
	tests := []struct {
		name    string
		envFile string // content; empty means no --env-file
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "env file wins", envFile: "JWT_SECRET=" + fileSecret, env: map[string]string{"JWT_SECRET": envSecret}, want: fileSecret},
		{name: "environment fallback", envFile: "OTHER=1", env: map[string]string{"JWT_SECRET": envSecret}, want: envSecret},
		{name: "environment only", env: map[string]string{"JWT_SECRET": envSecret}, want: envSecret},
		{name: "exactly 32 bytes", env: map[string]string{"JWT_SECRET": "0123456789abcdef0123456789abcdef"}, want: "0123456789abcdef0123456789abcdef"},
		{name: "missing", wantErr: "JWT_SECRET is missing"},
		{name: "missing in both", envFile: "OTHER=1", wantErr: "JWT_SECRET is missing"},
		{name: "too short in env file", envFile: "JWT_SECRET=" + short, wantErr: "JWT_SECRET is shorter than the 32-byte minimum"},
		{name: "31 bytes", env: map[string]string{"JWT_SECRET": "0123456789abcdef0123456789abcde"}, wantErr: "32-byte minimum"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.envFile != "" {
				path = writeTemp(t, "backend.env", tc.envFile+"\n")
			}
			got, err := loadSecret(path, envOf(tc.env))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.NotContains(t, err.Error(), short)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}

	_, err := loadSecret(filepath.Join(t.TempDir(), "missing.env"), envOf(map[string]string{"JWT_SECRET": envSecret}))
	require.ErrorContains(t, err, "read env file", "a named but missing env file is an error")
}

func TestLoadAdminToken(t *testing.T) {
	env := envOf(map[string]string{adminTokenEnv: " from-env \n"})

	got, err := loadAdminToken(writeTemp(t, "admin.token", "from-file\n"), env)
	require.NoError(t, err)
	require.Equal(t, "from-file", got, "the file wins")

	got, err = loadAdminToken("", env)
	require.NoError(t, err)
	require.Equal(t, "from-env", got)

	got, err = loadAdminToken("", envOf(nil))
	require.NoError(t, err)
	require.Empty(t, got, "no token: control API off")

	_, err = loadAdminToken(writeTemp(t, "empty.token", "\n"), env)
	require.ErrorContains(t, err, "is empty")
	_, err = loadAdminToken(filepath.Join(t.TempDir(), "missing"), env)
	require.ErrorContains(t, err, "read admin token file")
}
