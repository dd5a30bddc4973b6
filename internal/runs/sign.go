package runs

import (
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/statement"
)

// A name typed on a command line is never authority by itself: every start and decision
// carries a statement signed by the person's key, or by the gateway's key on behalf of a mapped
// Slack user or of an alert. This file is the one place that finds that key and signs.

// Signer finds the key that signs for actor, before anything is sent: a wrong name or a
// missing key stops the request while nothing has changed. field names the input that gave the
// actor ("--as"), for the error.
type Signer interface {
	Key(cfg *config.Config, field, actor string) (*Key, error)
}

// Key signs statements for one actor.
type Key struct {
	Actor  string
	Signer ssh.Signer
	// Via and SlackUser are set when the gateway signs on behalf of a Slack user
	// (statement.ViaSlack) or of an alert (statement.ViaAlert).
	Via       string
	SlackUser string
	closer    func() error
}

// Close releases the key (an ssh-agent connection).
func (k *Key) Close() error {
	if k == nil || k.closer == nil {
		return nil
	}
	return k.closer()
}

// PersonKeys signs with a person's own key: KeyFile when given, else the ssh-agent at
// AgentSock, else the private key next to each of the person's {file:} public keys (the demo
// keys). This is how the CLI signs.
type PersonKeys struct {
	KeyFile   string
	AgentSock string
}

// Key checks that actor is a person and finds their key.
func (p PersonKeys) Key(cfg *config.Config, field, actor string) (*Key, error) {
	if err := CheckPerson(cfg, field, actor); err != nil {
		return nil, err
	}
	people, err := cfg.People()
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, p := range people {
		if p.Name == actor {
			keys = p.Keys
		}
	}
	key, closer, err := statement.FindSigner(actor, keys, p.KeyFile, p.AgentSock, cfg.KeyFiles(actor))
	if err != nil {
		return nil, fmt.Errorf("cannot sign for %s: %w", actor, err)
	}
	return &Key{Actor: actor, Signer: key, closer: closer}, nil
}

// ErrNoGatewayKey: the gateway was started without a signing key, so it starts and decides
// nothing.
var ErrNoGatewayKey = errors.New("the gateway has no signing key (AUTHOPS_GATEWAY_KEY); nothing was sent")

// SlackUser signs with the gateway's key on behalf of the person whose slack_id is User, and
// for that person only.
type SlackUser struct {
	Gateway ssh.Signer
	// Person is who the gateway mapped User to; User is the Slack user id Slack verified.
	Person, User string
}

// Key refuses any actor but the Slack user's person.
func (s SlackUser) Key(cfg *config.Config, field, actor string) (*Key, error) {
	if s.Gateway == nil {
		return nil, ErrNoGatewayKey
	}
	if err := CheckPerson(cfg, field, actor); err != nil {
		return nil, err
	}
	p, _ := cfg.Person(actor)
	if actor != s.Person || p.SlackID == "" || p.SlackID != s.User {
		//lint:ignore ST1005 "Slack" is a proper noun
		return nil, fmt.Errorf("Slack user %s is not %s in people:; nothing was sent", contract.CleanText(s.User), actor)
	}
	return &Key{Actor: actor, Signer: s.Gateway, Via: statement.ViaSlack, SlackUser: s.User}, nil
}

// Alert signs with the gateway's key as an unattended alert requester (Actor, e.g.
// alert:alertmanager), which may only declare incidents and add notes.
type Alert struct {
	Gateway ssh.Signer
	Actor   string
}

// Key refuses any actor but the alert's.
func (a Alert) Key(_ *config.Config, _, actor string) (*Key, error) {
	if a.Gateway == nil {
		return nil, ErrNoGatewayKey
	}
	if actor != a.Actor || !strings.HasPrefix(actor, contract.RequesterAlertPrefix) {
		return nil, fmt.Errorf("the alert signer signs as %s only, not %s; nothing was sent", a.Actor, contract.CleanText(actor))
	}
	return &Key{Actor: actor, Signer: a.Gateway, Via: statement.ViaAlert}, nil
}

// signing is one actor's key with what every statement of this client names.
type signing struct {
	key       *Key
	namespace string
	identity  string
}

// signingFor finds actor's key through s and the namespace statements name.
func (c *Client) signingFor(cfg *config.Config, s Signer, field, actor string) (*signing, error) {
	if s == nil {
		return nil, errors.New("no signer: nothing was sent")
	}
	key, err := s.Key(cfg, field, actor)
	if err != nil {
		return nil, err
	}
	ns, err := c.o.Namespace()
	if err != nil {
		_ = key.Close()
		return nil, err
	}
	return &signing{key: key, namespace: ns, identity: c.o.Identity}, nil
}

func (s *signing) close() { _ = s.key.Close() }

// sign returns the signed statement that the actor takes action on workflowID (first run
// firstRunID, empty for a start) with comment (a start's reason) and args (a decision's Args, a
// start input's StartArgs), each signed as a field of its own.
func (s *signing) sign(workflowID, firstRunID, action, comment, args string) (*contract.SignedStatement, error) {
	nonce, err := statement.NewNonce()
	if err != nil {
		return nil, err
	}
	signed, err := statement.Sign(rand.Reader, s.key.Signer, contract.Statement{
		Namespace:   s.namespace,
		WorkflowID:  workflowID,
		FirstRunID:  firstRunID,
		Action:      action,
		Actor:       s.key.Actor,
		CommentHash: statement.HashComment(comment),
		ArgsHash:    statement.HashArgs(args),
		IssuedAt:    time.Now().UTC(),
		Nonce:       nonce,
		Client:      s.identity,
		Via:         s.key.Via,
		SlackUser:   s.key.SlackUser,
	})
	if err != nil {
		return nil, err
	}
	return &signed, nil
}

// CheckPerson refuses a name that is not a person of the config exactly as written. Names are
// canonical (contract.PersonNamePattern), so "Bob" or "bob " is refused, never trimmed or
// lowered silently: the signed statement and the timeline must name the same person the
// sender typed.
func CheckPerson(cfg *config.Config, field, name string) error {
	if name == "" {
		return fmt.Errorf("%s is required: the name of a person in the config's people (%s)", field, PeopleList(cfg))
	}
	if _, ok := cfg.Person(name); ok {
		return nil
	}
	if guess := strings.ToLower(strings.TrimSpace(name)); guess != name {
		if _, ok := cfg.Person(guess); ok {
			return fmt.Errorf("%s %q is not a person in the config: names must be given in their canonical form (lower case, no spaces); did you mean %s?",
				field, name, guess)
		}
	}
	return fmt.Errorf("%s %q is not a person in the config; people are: %s", field, name, PeopleList(cfg))
}

// PeopleList names the config's people, sorted, for errors.
func PeopleList(cfg *config.Config) string {
	if len(cfg.PeopleByName) == 0 {
		return "none configured"
	}
	return strings.Join(slices.Sorted(maps.Keys(cfg.PeopleByName)), ", ")
}

// requester is who asks for a start: name, or when it is empty the fallback (the CLI's $USER)
// if that names a person of the config.
func requester(cfg *config.Config, field, name, fallback string) (string, error) {
	if name != "" || fallback == "" {
		return name, CheckPerson(cfg, field, name)
	}
	if _, ok := cfg.Person(fallback); ok {
		return fallback, nil
	}
	return "", fmt.Errorf("%s is required: $USER (%q) is not a person in the config; people are: %s",
		field, contract.CleanText(fallback), PeopleList(cfg))
}
