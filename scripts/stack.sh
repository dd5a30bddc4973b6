#!/usr/bin/env bash
# Sourced by the demo scripts: starts the local stack (make up) in the background unless it is
# running, waits for it, and defines the helpers the demos share.

export TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS:-127.0.0.1:7233}
export TEMPORAL_NAMESPACE=${TEMPORAL_NAMESPACE:-default}
export AUTHOPS_CONFIG=${AUTHOPS_CONFIG:-runbook.yaml}
BACKEND=http://127.0.0.1:8081
UI=http://localhost:8233

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stack_pid=""
stop_stack() {
  if [ -n "$stack_pid" ] && kill -0 "$stack_pid" 2>/dev/null; then
    kill -INT "$stack_pid" && wait "$stack_pid" || true
  fi
}
if ! listening 7233; then
  say "Starting the local stack (make up) in the background; log in var/devstack.log"
  mkdir -p var
  bin/devstack --var var --bin bin --config runbook.yaml >var/devstack.log 2>&1 &
  stack_pid=$!
  trap stop_stack EXIT
fi
for _ in $(seq 1 120); do
  curl -fsS "$BACKEND/healthz" >/dev/null 2>&1 && listening 7233 && break
  kill -0 "${stack_pid:-$$}" 2>/dev/null || { cat var/devstack.log; exit 1; }
  sleep 0.5
done
curl -fsS "$BACKEND/healthz" >/dev/null || { echo "backend not healthy; see var/devstack.log"; exit 1; }

# A real user session from before the rotation. Tokens stay in this shell; only statuses are printed.
login() {
  curl -sS -X POST "$BACKEND/auth/token" -H 'Content-Type: application/json' \
    -d "{\"username\":\"demo-user\",\"password\":\"$(cat var/demo/passwords/demo-user)\"}" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
me() { curl -s -o /dev/null -w '%{http_code}' "$BACKEND/auth/me" -H "Authorization: Bearer $1"; }
phase() { bin/starter status "$1" --json | sed -n 's/^  "phase": "\(.*\)",$/\1/p'; }
wait_phase() {
  for _ in $(seq 1 240); do
    case "$(phase "$1")" in $2*) return 0 ;; esac
    sleep 0.5
  done
  echo "run $1 did not reach phase '$2'"; bin/starter timeline "$1"; exit 1
}

