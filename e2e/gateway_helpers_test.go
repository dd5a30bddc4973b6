package e2e

import (
	"testing"

	"github.com/authops/authops/internal/testenv"
)

// gatewayKey and startGateway are testenv's, named as the gateway tests call them.
func gatewayKey(t *testing.T) (keyFile, extraYAML string) { return testenv.GatewayKey(t) }

func startGateway(t *testing.T, env *testenv.Env, keyFile string, vars ...string) string {
	return env.StartGateway(t, keyFile, vars...)
}
