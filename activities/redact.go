package activities

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/secretstore"
)

// Worker credentials held in its environment: the value of each, or of the file each names, is
// hidden in deploy output. TEMPORAL_* are those envconfig reads (temporalutil.Dial).
var (
	credentialEnv = []string{
		notify.EnvSlackBotToken, "SLACK_APP_TOKEN",
		"TEMPORAL_API_KEY", "TEMPORAL_TLS_CLIENT_KEY_DATA", "TEMPORAL_CODEC_AUTH",
	}
	credentialFileEnv = []string{"AUTHOPS_GATEWAY_KEY", "TEMPORAL_TLS_CLIENT_KEY_PATH"}
	// credentialEnvPrefixes name families of variables that carry credentials: gRPC metadata
	// is how an authorization header reaches the server.
	credentialEnvPrefixes = []string{"TEMPORAL_GRPC_META_"}
)

// minKeyLine is the shortest line of a key file that is hidden on its own: a PEM key printed
// line by line must not survive, and short lines (blank, "-----END…") say nothing.
const minKeyLine = 16

// knownSecrets lists every secret value this worker can read cheaply, which a deploy command or
// webhook must never echo into its output (it reaches the run's history): for every target,
// not only the one deployed, the env sink's value (which a store may not know yet), every value
// its store holds whatever the stage (a failed or deprecated version may still be in a file the
// tool prints) and the credentials its config references; and the worker's own credentials.
// What cannot be read is skipped: its absence is no reason to fail a deploy.
func (a *Secrets) knownSecrets(ctx context.Context) []string {
	var out []string
	add := func(vs ...string) {
		for _, v := range vs {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
	}
	for _, name := range a.Config.TargetNames() {
		t := a.Config.Targets[name]
		if v, ok, err := a.sink(t).Get(t.EnvSink.Key); err == nil && ok {
			add(v)
		}
		add(a.storeValues(ctx, t)...)
		refs := []config.Ref{t.Admin.Token, t.Probe.Password, t.Probe.AdminPassword}
		if t.Notify.StatusWebhook != nil {
			refs = append(refs, *t.Notify.StatusWebhook)
		}
		// The worker's Vault credentials are secrets it knows too.
		if auth := t.SecretStore.Auth; auth.Token != nil {
			refs = append(refs, *auth.Token)
		} else if auth.AppRole != nil {
			refs = append(refs, auth.AppRole.SecretID)
		}
		for _, ref := range refs {
			if ref.File != "" {
				add(fileSecrets(a.Config.Abs(ref.File))...)
			} else if v, err := a.Config.Resolve("", ref); err == nil {
				add(v)
			}
		}
		for _, env := range t.Deployer.HeadersFromEnv {
			add(os.Getenv(env))
		}
	}
	for _, env := range credentialEnv {
		add(os.Getenv(env))
	}
	for _, env := range credentialFileEnv {
		if p := os.Getenv(env); p != "" {
			add(fileSecrets(p)...)
		}
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		for _, p := range credentialEnvPrefixes {
			if strings.HasPrefix(k, p) {
				add(v)
			}
		}
	}
	if len(a.PeerKey) > 0 {
		k := a.PeerKey
		add(string(k), hex.EncodeToString(k), base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k))
	}
	return out
}

// storeValues reads every value a target's secret store holds. A store that does not exist on
// this worker's disk is not created: another worker may serve that target.
func (a *Secrets) storeValues(ctx context.Context, t *config.Target) []string {
	if t.SecretStore.Kind == "file" {
		dir := a.Config.Abs(t.SecretStore.Dir)
		if _, err := os.Stat(filepath.Join(dir, t.SecretStore.Name+".json")); err != nil {
			return nil
		}
	}
	store, err := a.store(ctx, t)
	if err != nil {
		return nil
	}
	vs, err := store.List(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, v := range vs {
		if val, err := store.Value(ctx, v.ID); err == nil {
			out = append(out, val)
		} else if !errors.Is(err, secretstore.ErrValuePruned) && !errors.Is(err, secretstore.ErrNotFound) {
			break // the store became unreadable: what was read so far is all there is
		}
	}
	return out
}

// fileSecrets is a credential file's content, whole and line by line (a key file may be printed
// either way). A missing or unreadable file has none.
func fileSecrets(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	s := strings.TrimSpace(string(b))
	out := []string{s}
	if strings.Contains(s, "\n") {
		for line := range strings.Lines(s) {
			// PEM armour ("-----BEGIN …-----") is no secret.
			if line = strings.TrimSpace(line); len(line) >= minKeyLine && !strings.HasPrefix(line, "-----") {
				out = append(out, line)
			}
		}
	}
	return out
}
