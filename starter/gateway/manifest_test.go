package gateway

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestManifestMatchesTheGateway: the Slack app manifest we ship points the slash command and
// interactivity at the gateway's routes and asks for the scopes the gateway and the notifier use.
func TestManifestMatchesTheGateway(t *testing.T) {
	b, err := os.ReadFile("../../slack/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
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
		}
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/runbook" ||
		!strings.HasSuffix(m.Features.SlashCommands[0].URL, "/slack/commands") {
		t.Errorf("slash command: %+v", m.Features.SlashCommands)
	}
	if !m.Settings.Interactivity.IsEnabled || !strings.HasSuffix(m.Settings.Interactivity.RequestURL, "/slack/interactions") {
		t.Errorf("interactivity: %+v", m.Settings.Interactivity)
	}
	for _, s := range []string{"commands", "chat:write", "channels:history", "im:write"} {
		if !slices.Contains(m.OAuthConfig.Scopes.Bot, s) {
			t.Errorf("scope %s missing: %v", s, m.OAuthConfig.Scopes.Bot)
		}
	}
}
