#!/usr/bin/env bash
# The gateway authenticates to Graph with a certificate instead of a secret: the token
# request carries an RS256 client assertion with the certificate's x5t, which the fixture's
# token endpoint verifies against the certificate (signature, x5t, aud, iss/sub, exp) before
# it issues the app token that Graph then accepts.
. "$(dirname "$0")/graph_lib.sh"

A=3f2504e0-4f89-41d3-9a0c-0305e82c3301
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=authgate-graph \
    -keyout "$T/graph.key" -out "$T/graph.crt" 2>/dev/null || fail "openssl"
graph_start --cert "$T/graph.crt"
start_upstream
graph_config "$T/gw.json"
# Replace the secret with the certificate and key.
python3 - "$T/gw.json" "$T/graph.crt" "$T/graph.key" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
del c["graph"]["client_secret_file"]
c["graph"]["client_certificate_file"], c["graph"]["client_key_file"] = sys.argv[2], sys.argv[3]
json.dump(c, open(sys.argv[1], "w"))
PY
start_gateway "$T/gw.json"
wait_ready
expect_eq "$(get /api/v1/pods "$(graph_token "$A")")" 200 "overage with certificate credentials"
expect_eq "$(graph_stat tokens)" 1 "token requests"
expect_eq "$(graph_stat badAuth)" 0 "rejected client assertions or app tokens"
expect_eq "$(graph_lookups "$A")" 1 "Graph lookups"
expect_match "$(groups_of "$(tail -1 "$UP_LOG")")" "$(gid $A 2)" "groups forwarded"
expect_no_match "$(cat "$GW_LOG")" "BEGIN|PRIVATE" "key material in the log"
pass "certificate client assertion accepted; groups resolved"
