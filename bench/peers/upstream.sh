# The benchmark's upstream (sourced by bench/run.sh): nginx, one worker, answering every
# request with the same ~330-byte JSON a Kubernetes GET of a Pod returns, keep-alive. It
# echoes the Impersonate-User header it received in X-Seen-Impersonate-User (and whether an
# Authorization header reached it in X-Seen-Authorization) so the preflight can check what a
# proxy forwarded. Plain HTTP on loopback: every target proxies to it the same way.

AG_POD_JSON='{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-0","namespace":"default","uid":"7d3c1f52-2f0e-4a8e-9a59-1f0c2b7d9e41","resourceVersion":"123456","creationTimestamp":"2026-01-01T00:00:00Z","labels":{"app":"web"}},"spec":{"nodeName":"node-1","containers":[{"name":"web","image":"nginx:1.25"}]},"status":{"phase":"Running","podIP":"10.244.0.12"}}'

# peer_upstream_start DIR PORT: sets AG_LAST_PID (nginx master).
peer_upstream_start() {
  local d=$1 port=$2
  ag_nginx_start "$d" upstream "
  server {
    listen 127.0.0.1:$port backlog=4096 reuseport;
    location / {
      default_type application/json;
      add_header X-Seen-Impersonate-User \$http_impersonate_user always;
      add_header X-Seen-Authorization \$http_authorization always;
      return 200 '$AG_POD_JSON';
    }
  }" 1
}

# peer_fixture DIR: what every single-target bench script starts from, in DIR: the test
# certificate, 1,000 users' tokens (tokens.txt) and the upstream on a free port, accepting;
# sets UP (its port). Exits the script when the upstream does not start.
peer_fixture() {
  local d=$1
  ag_make_cert "$d"
  node bench/mkjwt.mjs "$d" 1000 >/dev/null
  UP=$(ag_free_port)
  peer_upstream_start "$d" "$UP"
  ag_wait_port "$UP" 100 || { echo "upstream did not start" >&2; exit 1; }
}
