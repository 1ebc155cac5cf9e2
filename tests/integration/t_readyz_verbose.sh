#!/usr/bin/env bash
# /readyz?verbose and /livez?verbose list each check as kube-apiserver does ("[+]name ok",
# "[-]name failed: reason", then "readyz check passed|failed"). An issuer whose discovery
# is down keeps the gateway unready (503) and is named with the failed fetch; the same
# issuer marked "optional": true is still listed as failed, but the gateway is ready and
# serves the working issuer's tokens.
. "$(dirname "$0")/oidc_lib.sh"

oidc_start
start_upstream
# nothing listens on port 1 of loopback: discovery is refused at once
down="http://127.0.0.1:1/down"
issuers() { # issuers OPTIONAL(true|false)
  oidc_config "$T/base.json"
  jq --arg d "$down" --argjson opt "$1" '.authentication.issuers += [{"issuer": $d,
      "audiences": ["https://authgate.test"], "keys": {"discovery": true}, "optional": $opt,
      "claims": {"username": "sub", "username_prefix": "down:"}}]' "$T/base.json"
}
hz() { curl -s -o "$T/hz" -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT$1"; }

issuers false >"$T/gw.json"
start_gateway "$T/gw.json"
for ((i = 0; i < 100; i++)); do # until the up issuer has its keys and the down one has failed
  hz '/readyz?verbose' >/dev/null
  grep -q "^\[+\]issuer $OIDC_ISSUER ok" "$T/hz" && grep -q 'discovery failed' "$T/hz" && break
  sleep 0.05
done
expect_eq "$(hz '/readyz?verbose')" 503 "required issuer down: not ready"
body=$(cat "$T/hz")
expect_match "$body" "^\[\+\]shutdown ok" "shutdown check listed"
expect_match "$body" "\[\+\]issuer $OIDC_ISSUER ok" "working issuer ok"
expect_match "$body" "\[-\]issuer $down failed: no keys yet: discovery failed: " "down issuer named with its failure"
expect_eq "$(tail -1 "$T/hz")" "readyz check failed" "final line"
expect_eq "$(grep -vc '^\[[-+]\]' "$T/hz")" 1 "only check lines and the final line"
expect_eq "$(hz /readyz)" 503 "plain readyz 503"
expect_match "$(cat "$T/hz")" "\[-\]issuer $down failed" "plain readyz lists the failure too"
expect_eq "$(hz '/livez?verbose')" 200 "live while unready"
expect_eq "$(cat "$T/hz")" "$(printf '[+]ping ok\nlivez check passed')" "livez verbose"
expect_eq "$(hz /livez)" 200 "livez"
expect_eq "$(cat "$T/hz")" "ok" "plain livez body"
pass "required issuer down: 503, named in /readyz?verbose; /livez 200"
kill "$GW_PID"
wait "$GW_PID" 2>/dev/null || true

issuers true >"$T/gw2.json"
start_gateway "$T/gw2.json" gw2
wait_ready
expect_eq "$(hz /readyz)" 200 "optional issuer down: ready"
expect_eq "$(cat "$T/hz")" "ok" "plain readyz body"
for ((i = 0; i < 100; i++)); do
  hz '/readyz?verbose' >/dev/null
  grep -q 'discovery failed' "$T/hz" && break
  sleep 0.05
done
expect_eq "$(hz '/readyz?verbose')" 200 "verbose: still 200"
body=$(cat "$T/hz")
expect_match "$body" "\[-\]issuer $down failed: no keys yet: discovery failed: .*\(optional: not counted\)" \
  "optional failure still listed"
expect_match "$body" "\[\+\]issuer $OIDC_ISSUER ok" "working issuer ok"
expect_eq "$(tail -1 "$T/hz")" "readyz check passed" "final line"
expect_eq "$(get /api/v1/namespaces/default/pods "$(oidc_token alice)")" 200 "working issuer serves"
pass "optional issuer down: 200, still listed [-] in /readyz?verbose"
