# HAProxy as a TLS proxy that verifies an RS256 JWT with jwt_verify on every request (a C
# proxy doing authentication; sourced by bench/run.sh). Checks alg, signature, exp and aud,
# strips Authorization and client Impersonate-* headers and forwards the token's sub as
# Impersonate-User, like the gateway's front-door path minus authorization. Same TLS version,
# cipher and certificate as every target; nbthread = the worker count. Its HTTP log goes to
# a file (one line per request, `option httplog` to stdout, redirected), as a production
# proxy runs.
# maxconn 9950: the sandbox's hard fd limit is 20000 and HAProxy reserves 2 fds per
# connection, so --hold measurements stay below that.

# peer_haproxy_start DIR PORT WORKERS UPSTREAM_PORT: sets AG_LAST_PID.
peer_haproxy_start() {
  local d=$1 port=$2 workers=$3 up=$4 aud
  aud=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["audience"])' "$d/claims.json")
  cat >"$d/haproxy-w$workers.cfg" <<CFG
global
  maxconn 9950
  ulimit-n 20000
  nbthread $workers
  ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256
  ssl-default-bind-options ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.2
  tune.ssl.default-dh-param 2048
  log stdout format raw local0 info
defaults
  mode http
  log global
  option httplog
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
frontend fe
  bind 127.0.0.1:$port ssl crt $d/both.pem alpn http/1.1 curves prime256v1
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('\$.alg')
  http-request deny deny_status 401 unless { var(txn.alg) -m str RS256 }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"$d/jwt_pub.pem") -m int 1 }
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('\$.exp','int')
  http-request set-var(txn.now) date()
  http-request deny deny_status 401 if { var(txn.exp),sub(txn.now) -m int le 0 }
  http-request set-var(txn.aud) var(txn.bearer),jwt_payload_query('\$.aud')
  http-request deny deny_status 401 unless { var(txn.aud) -m str $aud }
  http-request set-var(txn.sub) var(txn.bearer),jwt_payload_query('\$.sub')
  http-request del-header Authorization
  http-request del-header Impersonate-User
  http-request del-header Impersonate-Group
  http-request del-header Impersonate-Uid
  http-request set-header Impersonate-User %[var(txn.sub)]
  default_backend up
backend up
  http-reuse always
  server s1 127.0.0.1:$up maxconn 1000
CFG
  haproxy -f "$d/haproxy-w$workers.cfg" >>"$d/haproxy-w$workers.access.log" 2>>"$d/haproxy-w$workers.out" &
  AG_LAST_PID=$!
  AG_PIDS+=("$AG_LAST_PID")
}
