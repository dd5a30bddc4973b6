package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// manifest is the part of a Slack app manifest the gateway depends on.
type manifest struct {
	Features struct {
		SlashCommands []struct{ Command, URL string } `yaml:"slash_commands"`
	}
	OAuthConfig struct {
		Scopes struct{ Bot []string }
	} `yaml:"oauth_config"`
	Settings struct {
		Interactivity struct {
			IsEnabled  bool   `yaml:"is_enabled"`
			RequestURL string `yaml:"request_url"`
		}
		SocketModeEnabled bool `yaml:"socket_mode_enabled"`
	}
}

func readManifest(t *testing.T, name string) (manifest, string) {
	t.Helper()
	b, err := os.ReadFile("../../slack/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m, string(b)
}

// TestManifestsMatchTheGateway: the Slack app manifests we ship, slack/manifest.yaml (Socket Mode)
// and slack/manifest-http.yaml (HTTP), declare /runbook and interactivity and ask for the bot
// scopes the gateway and the notifier use; the Socket Mode one has Socket Mode on and no request
// URL, and says that the app-level token needs connections:write; the HTTP one points at routes
// the gateway serves.
func TestManifestsMatchTheGateway(t *testing.T) {
	srv := New(Options{SigningSecret: secret, Runs: &fakeRuns{}})
	t.Cleanup(srv.Close)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	// served reports whether the gateway serves a manifest's URL: an unsigned POST to it is
	// refused as unsigned (401), not as an unknown route.
	served := func(raw string) bool {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" {
			return false
		}
		resp, err := http.Post(ts.URL+u.Path, "application/x-www-form-urlencoded", strings.NewReader("x=1"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	}

	for _, c := range []struct {
		file   string
		socket bool
	}{{"manifest.yaml", true}, {"manifest-http.yaml", false}} {
		t.Run(c.file, func(t *testing.T) {
			m, text := readManifest(t, c.file)
			if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/runbook" {
				t.Fatalf("slash command: %+v", m.Features.SlashCommands)
			}
			if !m.Settings.Interactivity.IsEnabled {
				t.Errorf("interactivity is off")
			}
			if m.Settings.SocketModeEnabled != c.socket {
				t.Errorf("socket_mode_enabled: %v", m.Settings.SocketModeEnabled)
			}
			for _, s := range []string{"commands", "chat:write", "channels:history", "channels:read", "channels:manage", "im:write"} {
				if !slices.Contains(m.OAuthConfig.Scopes.Bot, s) {
					t.Errorf("scope %s missing: %v", s, m.OAuthConfig.Scopes.Bot)
				}
			}
			if slices.Contains(m.OAuthConfig.Scopes.Bot, "connections:write") {
				t.Errorf("connections:write is an app-level token scope, not a bot scope")
			}
			cmdURL, interURL := m.Features.SlashCommands[0].URL, m.Settings.Interactivity.RequestURL
			if c.socket {
				if cmdURL != "" || interURL != "" {
					t.Errorf("Socket Mode needs no request URL: %q, %q", cmdURL, interURL)
				}
				if !strings.Contains(text, "connections:write") {
					t.Errorf("the Socket Mode manifest does not say the app-level token needs connections:write")
				}
				return
			}
			if !strings.HasSuffix(cmdURL, "/slack/commands") || !served(cmdURL) {
				t.Errorf("slash command URL %q is not the gateway's /slack/commands", cmdURL)
			}
			if !strings.HasSuffix(interURL, "/slack/interactions") || !served(interURL) {
				t.Errorf("interactivity URL %q is not the gateway's /slack/interactions", interURL)
			}
		})
	}

	// Both describe the same app: only the transport differs.
	sock, _ := readManifest(t, "manifest.yaml")
	web, _ := readManifest(t, "manifest-http.yaml")
	if !slices.Equal(sock.OAuthConfig.Scopes.Bot, web.OAuthConfig.Scopes.Bot) {
		t.Errorf("bot scopes differ: %v and %v", sock.OAuthConfig.Scopes.Bot, web.OAuthConfig.Scopes.Bot)
	}
}
