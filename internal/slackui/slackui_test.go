package slackui

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
)

// TestApproves: an Approve button's message names exactly what it approves: the ranges, the
// users (or their count), the target.
func TestApproves(t *testing.T) {
	many := make([]string, 12)
	for n := range many {
		many[n] = fmt.Sprintf("user%02d", n)
	}
	for want, c := range map[string]struct {
		req     contract.ContainRequest
		targets []string
	}{
		"deny-cidr 203.0.113.0/24, 198.51.100.0/24 (2 ranges) for 1h0m0s, forced past the lock-out guard on target demo": {
			contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24", "198.51.100.0/24"}, TTL: time.Hour, Force: true, Target: "demo"}, []string{"demo", "staging"}},
		"deny-cidr 203.0.113.0/24 (1 range) on every affected target: demo, staging": {
			contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24"}}, []string{"demo", "staging"}},
		"logout-users of 2 users: alice, bob on target demo": {
			contract.ContainRequest{Kind: contract.ContainLogoutUsers, Users: []string{"alice", "bob"}}, []string{"demo"}},
		"require-reset of 12 users (the first 10: user00, user01, user02, user03, user04, user05, user06, user07, user08, user09, …) on target demo": {
			contract.ContainRequest{Kind: contract.ContainRequireReset, Users: many}, []string{"demo"}},
		"logout-all: every session of every user on target staging": {
			contract.ContainRequest{Kind: contract.ContainLogoutAll, Target: "staging"}, []string{"demo", "staging"}},
		"log-level to debug on no target yet": {
			contract.ContainRequest{Kind: contract.ContainLogLevel, Level: "debug"}, nil},
	} {
		require.Equal(t, want, Approves(c.req, c.targets))
	}
}
