# nginx as a TLS-terminating reverse proxy with no authentication: the "just a proxy"
# ceiling (sourced by bench/run.sh). TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256 with the P-256
# certificate every target uses, keep-alive to the upstream, and its access log to a file
# (the default combined format, one line per request, written in 64 KiB batches and at
# least once a second: nginx's own efficient setting), as a production proxy runs.

# peer_nginx_start DIR PORT WORKERS UPSTREAM_PORT: sets AG_LAST_PID (nginx master).
peer_nginx_start() {
  local d=$1 port=$2 workers=$3 up=$4
  ag_nginx_start "$d" "nginx-w$workers" "
  upstream up { server 127.0.0.1:$up; keepalive 256; }
  ssl_protocols TLSv1.2;
  ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256;
  ssl_ecdh_curve prime256v1;
  ssl_session_cache shared:SSL:10m;
  server {
    listen 127.0.0.1:$port ssl backlog=4096 reuseport;
    ssl_certificate $d/cert.pem;
    ssl_certificate_key $d/key.pem;
    access_log $d/nginx-w$workers.access.log combined buffer=64k flush=1s;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_buffering off;
    }
  }" "$workers"
}
