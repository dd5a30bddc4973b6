package workflows

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWorkflowsLinkNoAdapter: workflow code is deterministic orchestration only. It schedules
// activities by name (contract/act) and links neither the activities nor the adapters behind
// them, so it cannot touch a secret store, an env file, a deployment, a backend or Slack, and a
// change to any of them cannot change what a workflow does on replay.
func TestWorkflowsLinkNoAdapter(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, string(out))
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/authops/authops/contract/act")
	forbidden := []string{
		"github.com/authops/authops/activities",
		"github.com/authops/authops/internal/secretstore",
		"github.com/authops/authops/internal/envfile",
		"github.com/authops/authops/internal/deploy",
		"github.com/authops/authops/internal/probe",
		"github.com/authops/authops/internal/controls",
		"github.com/authops/authops/internal/freeze",
		"github.com/authops/authops/internal/config",
		"github.com/authops/authops/internal/notify",
		"github.com/slack-go/slack",
		"github.com/gorilla/websocket",
	}
	for _, d := range deps {
		for _, pkg := range forbidden {
			require.False(t, d == pkg || strings.HasPrefix(d, pkg+"/"), "workflows link %s", d)
		}
	}
}
