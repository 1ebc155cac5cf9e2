# Shell helpers shared by bench/run.sh and the tests that drive bench programs: free
# loopback ports, a P-256 test certificate, nginx and HAProxy started from generated
# configs in a temp dir, process CPU/RSS figures from /proc. Sourced, never run. Every
# process started here is recorded in $AG_PIDS so the caller's trap can stop exactly those.
# Loopback only; nothing here listens on a fixed port.

AG_PIDS=()

# Prints a currently free TCP port on 127.0.0.1 (the caller retries if it is taken by
# the time it binds).
ag_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ag_make_cert DIR: DIR/cert.pem + DIR/key.pem, a self-signed P-256 certificate for
# localhost / 127.0.0.1 (ECDHE-ECDSA suites need an EC key), and DIR/both.pem for HAProxy.
ag_make_cert() {
  local d=$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$d/key.pem" -out "$d/cert.pem" -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null || return 1
  cat "$d/cert.pem" "$d/key.pem" >"$d/both.pem"
}

# ag_wait_port PORT [TRIES]: waits until something accepts on 127.0.0.1:PORT.
ag_wait_port() {
  local port=$1 tries=${2:-100}
  for ((i = 0; i < tries; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# ag_stop_pid PID: TERM, then KILL after 3 s; only the given process (and nginx/haproxy
# children that exit with their master).
ag_stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}

ag_stop_all() {
  local p
  for p in "${AG_PIDS[@]}"; do ag_stop_pid "$p"; done
  AG_PIDS=()
}

# ag_nginx_start DIR NAME CONF_BODY: writes DIR/NAME.conf (a complete config whose
# server blocks are CONF_BODY, with the port placeholders already filled by the caller),
# starts nginx in the foreground (daemon off) and records its master pid in
# AG_PIDS and in the variable AG_LAST_PID. Returns 1 if it does not come up.
ag_nginx_start() {
  local d=$1 name=$2 body=$3 workers=${4:-1}
  mkdir -p "$d/$name.tmp"
  cat >"$d/$name.conf" <<EOF
worker_processes $workers;
worker_rlimit_nofile 20000;
daemon off;
pid $d/$name.pid;
error_log $d/$name.error.log warn;
events { worker_connections 19000; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $d/$name.tmp; proxy_temp_path $d/$name.tmp;
  fastcgi_temp_path $d/$name.tmp; uwsgi_temp_path $d/$name.tmp; scgi_temp_path $d/$name.tmp;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
$body
}
EOF
  nginx -e "$d/$name.error.log" -p "$d" -c "$d/$name.conf" >>"$d/$name.out" 2>&1 &
  AG_LAST_PID=$!
  AG_PIDS+=("$AG_LAST_PID")
}

# ag_proc_tree PID: PID and all its descendants, one per line.
ag_proc_tree() {
  local root=$1
  echo "$root"
  local kid
  for kid in $(cat /proc/"$root"/task/*/children 2>/dev/null); do
    ag_proc_tree "$kid"
  done
}

# ag_cpu_ticks PIDS...: utime+stime of the processes, in clock ticks.
ag_cpu_ticks() {
  local total=0 p st f
  for p in "$@"; do
    st=$(cat /proc/"$p"/stat 2>/dev/null) || continue
    st=${st##*) } # fields after "(comm) ": f[0] is field 3, so utime (14) is f[11]
    read -r -a f <<<"$st"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# ag_mem_kb FIELD PIDS...: sum of /proc/PID/status FIELD (VmRSS, VmHWM) in KiB.
ag_mem_kb() {
  local field=$1 total=0 p v
  shift
  for p in "$@"; do
    v=$(awk -v f="$field:" '$1 == f { print $2 }' /proc/"$p"/status 2>/dev/null)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
