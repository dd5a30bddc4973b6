package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// userEntry is one record of the users file. The password is plaintext and
// only lives until it has been hashed.
type userEntry struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

// user is a known account. It holds only the bcrypt hash of the password.
type user struct {
	name string
	role string
	hash []byte
}

var (
	errUnknownUser = errors.New("unknown user")
	errBadPassword = errors.New("bad password")
)

// userDirectory holds the accounts loaded at start. It is read-only after
// construction, so it needs no lock.
type userDirectory struct {
	byName map[string]user
	// dummyHash is compared against for unknown users, so that a failed
	// login takes as long whether or not the user exists.
	dummyHash []byte
}

// readUsersFile reads the users file: a JSON list of userEntry.
func readUsersFile(path string) ([]userEntry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read users file: %w", err)
	}
	var entries []userEntry
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("parse users file %s: %w", path, err)
	}
	return entries, nil
}

// newUserDirectory validates the entries and hashes their passwords with
// the given bcrypt cost (0 means bcrypt.DefaultCost).
func newUserDirectory(entries []userEntry, cost int) (*userDirectory, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	dummyHash, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
	if err != nil {
		return nil, fmt.Errorf("hash dummy password: %w", err)
	}
	d := &userDirectory{byName: make(map[string]user, len(entries)), dummyHash: dummyHash}
	for i, e := range entries {
		switch {
		case strings.TrimSpace(e.Username) == "":
			return nil, fmt.Errorf("user %d: username is empty", i)
		case e.Password == "":
			return nil, fmt.Errorf("user %q: password is empty", e.Username)
		case strings.TrimSpace(e.Role) == "":
			return nil, fmt.Errorf("user %q: role is empty", e.Username)
		}
		if _, dup := d.byName[e.Username]; dup {
			return nil, fmt.Errorf("user %q: listed twice", e.Username)
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(e.Password), cost)
		if err != nil {
			return nil, fmt.Errorf("user %q: hash password: %w", e.Username, err)
		}
		d.byName[e.Username] = user{name: e.Username, role: e.Role, hash: hash}
	}
	return d, nil
}

// authenticate checks a username and password. It returns errUnknownUser or
// errBadPassword on failure.
func (d *userDirectory) authenticate(username, password string) (user, error) {
	u, ok := d.byName[username]
	if !ok {
		// Burn the same bcrypt time as a real check to hide which users exist.
		_ = bcrypt.CompareHashAndPassword(d.dummyHash, []byte(password))
		return user{}, errUnknownUser
	}
	if err := bcrypt.CompareHashAndPassword(u.hash, []byte(password)); err != nil {
		return u, errBadPassword
	}
	return u, nil
}

func (d *userDirectory) lookup(username string) (user, bool) {
	u, ok := d.byName[username]
	return u, ok
}

// list returns all users sorted by name.
func (d *userDirectory) list() []user {
	out := make([]user, 0, len(d.byName))
	for _, u := range d.byName {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b user) int { return strings.Compare(a.name, b.name) })
	return out
}
