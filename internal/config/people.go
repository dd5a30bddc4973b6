package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
)

var (
	personName = regexp.MustCompile(contract.PersonNamePattern)
	// slackUserID is the form of a Slack user id (U… or, in Enterprise Grid, W…), upper case
	// so that two ids cannot differ by case only.
	slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{1,31}$`)
)

// Person returns the person with this canonical name.
func (c *Config) Person(name string) (*Person, bool) {
	p, ok := c.PeopleByName[name]
	return p, ok && p != nil
}

// People returns every person, sorted by name, with every key resolved to a trimmed
// authorized_keys line (file keys are read now). A key given twice, for one person or two, is an
// error: a signature must identify one person.
func (c *Config) People() ([]contract.Person, error) {
	names := make([]string, 0, len(c.PeopleByName))
	for n := range c.PeopleByName {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]contract.Person, 0, len(names))
	owner := map[string]string{} // key -> field that gave it first
	for _, name := range names {
		p := c.PeopleByName[name]
		if p == nil {
			return nil, fmt.Errorf("people.%s: at least one key is required", name)
		}
		cp := contract.Person{Name: name, SlackID: p.SlackID}
		for i, k := range p.Keys {
			field := fmt.Sprintf("people.%s.keys[%d]", name, i)
			line, err := c.resolveKey(field, k)
			if err != nil {
				return nil, err
			}
			if first, dup := owner[line]; dup {
				return nil, fmt.Errorf("%s: the same key as %s; a key belongs to one person", field, first)
			}
			owner[line] = field
			cp.Keys = append(cp.Keys, line)
		}
		out = append(out, cp)
	}
	return out, nil
}

// GatewayKeys returns the Slack gateway's public keys as trimmed authorized_keys lines, or none
// when the config has no gateway.
func (c *Config) GatewayKeys() ([]string, error) {
	if c.Gateway == nil {
		return nil, nil
	}
	keys := make([]string, 0, len(c.Gateway.Keys))
	for i, k := range c.Gateway.Keys {
		line, err := c.resolveKey(fmt.Sprintf("gateway.keys[%d]", i), k)
		if err != nil {
			return nil, err
		}
		keys = append(keys, line)
	}
	return keys, nil
}

// KeyFiles returns the absolute paths of the person's {file: PATH} keys, in order; none for an
// unknown person.
func (c *Config) KeyFiles(name string) []string {
	p, ok := c.Person(name)
	if !ok {
		return nil
	}
	var files []string
	for _, k := range p.Keys {
		if k.File != "" {
			files = append(files, c.Abs(k.File))
		}
	}
	return files
}

// validatePeople checks names, slack ids and inline keys at load. File keys are only checked for
// a path: they are read when resolved.
func (c *Config) validatePeople() error {
	names := make([]string, 0, len(c.PeopleByName))
	for n := range c.PeopleByName {
		names = append(names, n)
	}
	slices.Sort(names)
	slackOwner := map[string]string{}
	keyOwner := map[string]string{}
	for _, name := range names {
		if !personName.MatchString(name) {
			return fmt.Errorf("people: name %q must match %s: names are lower case, so that no two people "+
				"differ only by case, spaces or look-alike letters", name, contract.PersonNamePattern)
		}
		p := c.PeopleByName[name]
		if p == nil || len(p.Keys) == 0 {
			return fmt.Errorf("people.%s.keys: at least one key is required", name)
		}
		p.Name = name
		if p.SlackID != "" {
			if !slackUserID.MatchString(p.SlackID) {
				return fmt.Errorf("people.%s.slack_id: must be a Slack user id like U012AB3CD", name)
			}
			if other, dup := slackOwner[p.SlackID]; dup {
				return fmt.Errorf("people.%s.slack_id: %s is already %s's", name, p.SlackID, other)
			}
			slackOwner[p.SlackID] = name
		}
		for i, k := range p.Keys {
			field := fmt.Sprintf("people.%s.keys[%d]", name, i)
			if err := checkKey(field, k); err != nil {
				return err
			}
			if k.Inline == "" {
				continue
			}
			line, _ := parseKey(field, []byte(k.Inline)) // checkKey parsed it
			if first, dup := keyOwner[line]; dup {
				return fmt.Errorf("%s: the same key as %s; a key belongs to one person", field, first)
			}
			keyOwner[line] = field
		}
	}
	return nil
}

// checkKey validates what can be checked without reading a file.
func checkKey(field string, k Key) error {
	switch {
	case k.Inline != "":
		_, err := parseKey(field, []byte(k.Inline))
		return err
	case k.File == "":
		return fmt.Errorf("%s: a public key (an authorized_keys line) or {file: PATH} is required", field)
	}
	return nil
}

// resolveKey returns the key as a trimmed authorized_keys line, reading a file key.
func (c *Config) resolveKey(field string, k Key) (string, error) {
	if err := checkKey(field, k); err != nil {
		return "", err
	}
	if k.Inline != "" {
		return parseKey(field, []byte(k.Inline))
	}
	b, err := os.ReadFile(c.Abs(k.File))
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	return parseKey(field, b)
}

// parseKey parses exactly one public key and re-marshals it without comment or options. Errors
// never quote the input: it may be a private key pasted by mistake.
func parseKey(field string, b []byte) (string, error) {
	if bytes.Contains(b, []byte("PRIVATE KEY")) {
		return "", fmt.Errorf("%s: is a private key; give the public key (the .pub file)", field)
	}
	pk, _, options, rest, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return "", fmt.Errorf("%s: not a public key in authorized_keys form", field)
	}
	// Options such as from= would restrict nothing here, so they are refused rather than dropped.
	if len(options) > 0 {
		return "", fmt.Errorf("%s: authorized_keys options are not supported; give the bare key", field)
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey(rest); err == nil {
		return "", errors.New(field + ": holds more than one key; give one key per entry")
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))), nil
}
