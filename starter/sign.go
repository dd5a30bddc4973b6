package main

import (
	"github.com/authops/authops/contract"

	"crypto/rand"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/statement"
)

// This file is the CLI's one place for who may speak and for signing what they say. Everything
// here runs before anything is sent: a wrong name, a comment with control characters or a missing
// key stops the command while nothing has changed.

// checkPerson refuses a name that is not a person of the config exactly as written. Names are
// canonical (contract.PersonNamePattern), so "Bob" or "bob " is refused, never trimmed or
// lowered silently: the signed statement and the timeline must name the same person the
// sender typed.
func checkPerson(cfg *config.Config, flag, name string) error {
	if name == "" {
		return fmt.Errorf("%s is required: the name of a person in the config's people (%s)", flag, peopleList(cfg))
	}
	if _, ok := cfg.Person(name); ok {
		return nil
	}
	if guess := strings.ToLower(strings.TrimSpace(name)); guess != name {
		if _, ok := cfg.Person(guess); ok {
			return fmt.Errorf("%s %q is not a person in the config: names must be given in their canonical form (lower case, no spaces); did you mean %s?",
				flag, name, guess)
		}
	}
	return fmt.Errorf("%s %q is not a person in the config; people are: %s", flag, name, peopleList(cfg))
}

func peopleList(cfg *config.Config) string {
	if len(cfg.PeopleByName) == 0 {
		return "none configured"
	}
	return strings.Join(slices.Sorted(maps.Keys(cfg.PeopleByName)), ", ")
}

// defaultRequester is $USER when that is a person of the config; otherwise the caller must
// name the requester with --requested-by.
func defaultRequester(cfg *config.Config) (string, error) {
	user := os.Getenv("USER")
	if _, ok := cfg.Person(user); ok && user != "" {
		return user, nil
	}
	return "", fmt.Errorf("--requested-by is required: $USER (%q) is not a person in the config; people are: %s",
		user, peopleList(cfg))
}

// signer signs statements for one person with one key, found before anything is sent.
type signer struct {
	actor     string
	key       ssh.Signer
	close     func() error
	namespace string
	identity  string
	// via and slackUser are set when the gateway signs on behalf of a Slack user
	// (statement.ViaSlack) or of an alert (statement.ViaAlert).
	via       string
	slackUser string
}

// newSigner checks that actor is a person and finds their key: --key, then the ssh-agent at
// $SSH_AUTH_SOCK, then the private key next to each of the person's {file:} public keys.
func (a *app) newSigner(cfg *config.Config, flag, actor string) (*signer, error) {
	if a.signAs != nil {
		// The gateway signs with its own key for the person Slack verified.
		return a.signAs(cfg, flag, actor)
	}
	if err := checkPerson(cfg, flag, actor); err != nil {
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
	key, closer, err := statement.FindSigner(actor, keys, a.keyFile, os.Getenv("SSH_AUTH_SOCK"), cfg.KeyFiles(actor))
	if err != nil {
		return nil, fmt.Errorf("cannot sign for %s: %w", actor, err)
	}
	ns, err := a.namespace()
	if err != nil {
		closer()
		return nil, err
	}
	return &signer{actor: actor, key: key, close: closer, namespace: ns, identity: a.identity()}, nil
}

// sign returns the signed statement that actor takes action on workflowID (first run
// firstRunID, empty for a start) with comment (a start's reason) and args (a decision's Args, a
// start input's StartArgs), each signed as a field of its own.
func (s *signer) sign(workflowID, firstRunID, action, comment, args string) (*contract.SignedStatement, error) {
	nonce, err := statement.NewNonce()
	if err != nil {
		return nil, err
	}
	signed, err := statement.Sign(rand.Reader, s.key, contract.Statement{
		Namespace:   s.namespace,
		WorkflowID:  workflowID,
		FirstRunID:  firstRunID,
		Action:      action,
		Actor:       s.actor,
		CommentHash: statement.HashComment(comment),
		ArgsHash:    statement.HashArgs(args),
		IssuedAt:    time.Now().UTC(),
		Nonce:       nonce,
		Client:      s.identity,
		Via:         s.via,
		SlackUser:   s.slackUser,
	})
	if err != nil {
		return nil, err
	}
	return &signed, nil
}

// clientNamespace is the namespace the client dials, loaded the way temporalutil.Dial loads
// its settings (TEMPORAL_NAMESPACE, config profiles); "default" when none is set.
func clientNamespace() (string, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return "", fmt.Errorf("load Temporal client settings: %w", err)
	}
	if opts.Namespace == "" {
		return client.DefaultNamespace, nil
	}
	return opts.Namespace, nil
}

// clientIdentity is the identity the SDK gives a client that sets none (temporalutil.Dial sets
// none): "pid@host@". Temporal records it with every Update request, so a signed statement's
// Client claim can be compared with what the server saw (starter timeline).
func clientIdentity() string {
	host, err := os.Hostname()
	if err != nil {
		host = "Unknown"
	}
	return fmt.Sprintf("%d@%s@", os.Getpid(), host)
}
