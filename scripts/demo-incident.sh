#!/usr/bin/env bash
# make demo-incident: auth incident response (runbook 1) end to end on the local stack. alice
# declares a credential-stuffing incident, bob takes ownership, denies the attacking range,
# requires a password reset, forces everyone out (carol approves), verifies and resolves; the
# post-incident report is printed. Every step runs on the real demo backend.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/stack.sh

# Logs in as demo-user from a local address; prints only the HTTP status.
login_status() {
  curl -s -o /dev/null -w '%{http_code}' --interface "$1" -X POST "$BACKEND/auth/token" -H 'Content-Type: application/json' \
    -d "{\"username\":\"demo-user\",\"password\":\"$(cat var/demo/passwords/demo-user)\"}"
}

id="incident-demo-$(date -u +%H%M%S)"
say "alice declares $id: credential stuffing against target 'demo' (from 127.0.0.2)"
bin/starter incident declare --id "$id" --trigger credential-stuffing --severity high \
  --summary "login failures x40 from 127.0.0.2" --reporter alice
echo "Web UI: $UI/namespaces/$TEMPORAL_NAMESPACE/workflows/$id"
wait_phase "$id" "contain"

say "The first 15 minutes ran: announce, freeze, snapshot, confirm"
bin/starter status "$id"
bin/starter freeze status

say "bob takes ownership"
bin/starter incident owner "$id" --as bob

say "bob denies the attacking range 127.0.0.2/32"
echo "before: login from 127.0.0.2 -> $(login_status 127.0.0.2)"
bin/starter incident contain "$id" --as bob deny-cidr 127.0.0.2/32
echo "after:  login from 127.0.0.2 -> $(login_status 127.0.0.2)   (expected 403)"
echo "        login from 127.0.0.1 -> $(login_status 127.0.0.1)   (expected 200)"

say "bob requires a password reset for demo-user"
bin/starter incident contain "$id" --as bob require-reset demo-user
echo "login as demo-user -> $(login_status 127.0.0.1)   (expected 403: reset required)"

say "bob forces everyone out; that needs one approver besides the owner"
bin/starter incident contain "$id" --as bob logout-all
bin/starter approve "$id" --action a3 --as bob || true
bin/starter approve "$id" --action a3 --as carol

say "Verification checklist"
bin/starter incident verify "$id" --as bob

say "bob resolves: the range and the freeze lift, the reset stays"
bin/starter incident resolve "$id" --as bob --summary "credential stuffing from one host; blocked, account reset" \
  --follow-up "rate-limit POST /auth/token per source"
for _ in $(seq 1 120); do
  case "$(phase "$id")" in closed*) break ;; esac
  sleep 0.5
done
control() { curl -s "$BACKEND/_control/state" -H "Authorization: Bearer $(cat var/demo/admin.token)"; }
echo "after resolve: denied ranges $(control | sed -n 's/.*"denied_cidrs":\(\[[^]]*\]\).*/\1/p')   (expected [])"
echo "               reset required for $(control | sed -n 's/.*"password_reset_users":\(\[[^]]*\]\).*/\1/p')   (kept: demo-user must reset)"

say "Post-incident report"
bin/starter report "$id" --format md
echo
echo "Artifacts: var/artifacts/$id/"
