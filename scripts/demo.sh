#!/usr/bin/env bash
# make demo: JWT secret rotation (runbook 2) end to end on the local stack, against the demo backend.
# alice requests it, alice's own approval is refused, bob (a second person) approves, the backend is
# really restarted with the new secret, and the old token really stops working.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/stack.sh

old_token=$(login)
say "demo-user logs in before the rotation: GET /auth/me -> $(me "$old_token")"

say "alice requests a rotation of target 'demo'"
id=$(bin/starter rotate --target demo --requested-by alice --reason "demo: scheduled key hygiene")
echo "workflow id: $id"
echo "Web UI:      $UI/namespaces/$TEMPORAL_NAMESPACE/workflows/$id"
wait_phase "$id" "waiting for approval"

say "alice tries to approve her own rotation (policy refuses it)"
bin/starter approve "$id" --as alice || true

say "bob, a second person from the target's approvers, approves"
bin/starter approve "$id" --as bob --comment "reviewed in #auth-ops"

wait_phase "$id" "observation window"
say "Status"
bin/starter status "$id"
say "Timeline (UTC)"
bin/starter timeline "$id"

say "After the rotation"
echo "old token:   GET /auth/me -> $(me "$old_token")   (expected 401: signed with the old secret)"
echo "fresh login: GET /auth/me -> $(me "$(login)")   (expected 200)"
echo
echo "The run stays open for its observation window (15m): 'bin/starter rollback $id --as alice' rolls back."
echo "Web UI: $UI/namespaces/$TEMPORAL_NAMESPACE/workflows/$id"

if [ -n "$stack_pid" ]; then
  if [ "${DEMO_KEEP_STACK:-1}" = 1 ] && [ -t 0 ]; then
    say "The stack keeps running so you can explore the Web UI. Ctrl-C stops it."
    wait "$stack_pid" || true
  fi
fi
