#!/usr/bin/env bash
# Caches and per-request state through the real binary (threat-model cases 23, 25, 27):
# decisions follow the groups of each request, never a cached verdict of the same user;
# a flood of bad tokens cannot evict good entries from the token cache (separate negative
# map); many users in parallel each get their own identity upstream and in the audit log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/threat_lib.sh"

threat_start "" '"token_cache": {"max_entries": 4, "shards": 1, "negative_max_entries": 8, "negative_ttl": "1m"}' \
    "\"audit\": {\"file\": \"$T/audit.log\"}"
metric() { # metric NAME_WITH_LABELS -> value (0 when absent)
    curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v m="$1" '$1 == m {print $2; f=1} END {if (!f) print 0}'
}
SEC=/api/v1/namespaces/default/secrets

# case 23: same user, other groups -> other decision, in both orders, repeatedly
for round in 1 2; do
    expect_eq "$(breq ok $SEC)" 403 "alice (devs) lists secrets, round $round"
    expect_eq "$(breq alice_secret_reader $SEC)" 200 "alice (secret-readers) lists secrets, round $round"
    expect_eq "$(up_headers Impersonate-Group | paste -sd,)" "secret-readers,system:authenticated" "forwarded with this request's groups"
    expect_eq "$(breq ok $SEC)" 403 "alice (devs) again, round $round"
done
# --as-group: bob as carol may list secrets (edit); as carol in group testers too, and the
# forwarded groups are the impersonated ones only
B=$(tok bob)
expect_eq "$(hreq GET $SEC -H "Authorization: Bearer $B")" 403 "bob himself"
expect_eq "$(hreq GET $SEC -H "Authorization: Bearer $B" -H 'Impersonate-User: carol')" 200 "bob --as carol"
expect_eq "$(hreq GET $SEC -H "Authorization: Bearer $B")" 403 "bob himself after impersonating"
expect_eq "$(hreq GET $SEC -H "Authorization: Bearer $B" -H 'Impersonate-User: carol' -H 'Impersonate-Group: secret-readers')" 403 "bob may not add group secret-readers"
pass "case 23: decisions follow each request's groups and impersonation, never a cached verdict"

# case 25: garbage tokens live in the negative map and cannot evict good entries (the
# positive map holds 4: were they shared, 40 garbage entries would push the good ones out)
for i in 0 1 2; do expect_eq "$(breq fresh_$i)" 200 "warm good token $i"; done
for i in 0 1 2; do expect_eq "$(breq fresh_$i)" 200 "good token $i"; done
h0=$(metric 'authgate_token_cache_total{result="hit"}')
m0=$(metric 'authgate_token_cache_total{result="miss"}')
for i in $(seq 0 39); do expect_eq "$(breq flood_sig_$i)" 401 "garbage $i"; done
n0=$(metric 'authgate_token_cache_total{result="negative"}')
expect_eq "$(breq flood_sig_39)" 401 "garbage again"
expect_eq "$(($(metric 'authgate_token_cache_total{result="negative"}') - n0))" 1 "answered from the negative map"
for i in 0 1 2; do expect_eq "$(breq fresh_$i)" 200 "good token $i after the flood"; done
h1=$(metric 'authgate_token_cache_total{result="hit"}')
expect_eq "$((h1 - h0))" 3 "the three good tokens are still cache hits after 40 garbage tokens"
[ "$(($(metric 'authgate_token_cache_total{result="miss"}') - m0))" -ge 40 ] || fail "garbage tokens were not verified"
pass "case 25: a flood of bad tokens does not evict good ones"
if grep -qF "$(tok fresh_0 | cut -d. -f3 | cut -c1-20)" "$GW_LOG" "$T/audit.log"; then fail "token in logs"; fi

# case 27: eight users in parallel, 10 requests each: every forwarded request and every
# audit event carries the user the request was made by
crowd=()
for i in $(seq 0 7); do
    (
        tk=$(tok crowd_$i)
        for j in $(seq 1 10); do
            curl -s -o /dev/null --max-time 5 -H "Authorization: Bearer $tk" \
                "http://127.0.0.1:$GW_PORT/api/v1/namespaces/default/pods?limit=$j&who=u$i"
        done
    ) &
    crowd+=($!)
done
wait "${crowd[@]}" # only these: the fixtures are background jobs too
# the audit writer runs off the worker threads: wait for its 80 events (not a fixed sleep)
audited() { [ "$(grep -c '"requestURI":"[^"]*who=' "$T/audit.log")" -ge 80 ]; }
wait_until 10 "80 audit events" audited
python3 - "$UP_LOG" "$T/audit.log" <<'PY' || fail "identity mixed up between concurrent requests"
import json, sys, urllib.parse
n = bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r["target"]).query)
    if "who" not in q:
        continue
    n += 1
    user = [v for k, v in r["headers"] if k.lower() == "impersonate-user"]
    if user != q["who"]:
        bad += 1
        print("upstream:", r["target"], user)
a = 0
for line in open(sys.argv[2]):
    e = json.loads(line)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(e.get("requestURI", "")).query)
    if "who" not in q:
        continue
    a += 1
    if e["user"]["username"] != q["who"][0]:
        bad += 1
        print("audit:", e["requestURI"], e["user"]["username"])
print("checked", n, "upstream requests and", a, "audit events")
sys.exit(1 if bad or n != 80 or a != 80 else 0)
PY
pass "case 27: 80 concurrent requests of 8 users: right identity upstream and in audit"
check_forward_invariant
