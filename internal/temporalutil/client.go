// Package temporalutil holds the Temporal plumbing shared by the worker and the starter.
package temporalutil

import (
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/log"
)

// Dial connects with the ecosystem's standard settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TLS, API key, config profiles), so Temporal Cloud works unchanged.
func Dial(logger *slog.Logger) (client.Client, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, fmt.Errorf("load Temporal client settings: %w", err)
	}
	if logger != nil {
		opts.Logger = log.NewStructuredLogger(logger)
	}
	c, err := client.Dial(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", orDefault(opts.HostPort), err)
	}
	return c, nil
}

func orDefault(hostPort string) string {
	if hostPort == "" {
		return client.DefaultHostPort
	}
	return hostPort
}
