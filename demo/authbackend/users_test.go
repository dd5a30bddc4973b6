package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func TestNewUserDirectory(t *testing.T) {
	d, err := newUserDirectory(testUsers(), bcrypt.MinCost)
	require.NoError(t, err)

	for _, e := range testUsers() {
		u, ok := d.lookup(e.Username)
		require.True(t, ok)
		require.Equal(t, e.Role, u.role)
		require.NotContains(t, string(u.hash), e.Password, "only the hash is kept")
		cost, err := bcrypt.Cost(u.hash)
		require.NoError(t, err)
		require.Equal(t, bcrypt.MinCost, cost)

		got, err := d.authenticate(e.Username, e.Password)
		require.NoError(t, err)
		require.Equal(t, e.Username, got.name)
	}

	_, err = d.authenticate("alice", "wrong")
	require.ErrorIs(t, err, errBadPassword)
	_, err = d.authenticate("mallory", "whatever")
	require.ErrorIs(t, err, errUnknownUser)

	var names []string
	for _, u := range d.list() {
		names = append(names, u.name)
	}
	require.Equal(t, []string{"alice", "bob", "carol"}, names)
}

func TestNewUserDirectoryDefaultCost(t *testing.T) {
	d, err := newUserDirectory([]userEntry{{Username: "u", Password: "p", Role: "user"}}, 0)
	require.NoError(t, err)
	u, _ := d.lookup("u")
	cost, err := bcrypt.Cost(u.hash)
	require.NoError(t, err)
	require.Equal(t, bcrypt.DefaultCost, cost)
}

func TestNewUserDirectoryRejects(t *testing.T) {
	tests := []struct {
		name    string
		entries []userEntry
		want    string
	}{
		{"empty username", []userEntry{{Password: "pw-Zq81", Role: "user"}}, "username is empty"},
		{"empty password", []userEntry{{Username: "u", Role: "user"}}, `user "u": password is empty`},
		{"empty role", []userEntry{{Username: "u", Password: "pw-Zq82"}}, `user "u": role is empty`},
		{"duplicate", []userEntry{{Username: "u", Password: "pw-Zq83", Role: "user"}, {Username: "u", Password: "pw-Zq84", Role: "admin"}}, "listed twice"},
		{"password over 72 bytes", []userEntry{{Username: "u", Password: strings.Repeat("x", 73), Role: "user"}}, "hash password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newUserDirectory(tc.entries, bcrypt.MinCost)
			require.ErrorContains(t, err, tc.want)
			for _, e := range tc.entries {
				if e.Password != "" {
					require.NotContains(t, err.Error(), e.Password)
				}
			}
		})
	}
}

func TestReadUsersFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}

	entries, err := readUsersFile(write("ok.json",
		`[{"username":"probe","password":"s3cret-probe","role":"user"},{"username":"probe-admin","password":"s3cret-admin","role":"admin"}]`))
	require.NoError(t, err)
	require.Equal(t, []userEntry{
		{Username: "probe", Password: "s3cret-probe", Role: "user"},
		{Username: "probe-admin", Password: "s3cret-admin", Role: "admin"},
	}, entries)

	_, err = readUsersFile(filepath.Join(dir, "missing.json"))
	require.ErrorContains(t, err, "read users file")
	_, err = readUsersFile(write("bad.json", `[{"username":`))
	require.ErrorContains(t, err, "parse users file")
	_, err = readUsersFile(write("typo.json", `[{"user":"x","password":"hidden-value","role":"user"}]`))
	require.ErrorContains(t, err, "parse users file")
	require.NotContains(t, err.Error(), "hidden-value")
}
