# shellcheck shell=bash
# The processes a benchmark run starts, each recorded in $work/pids so stop_all ends exactly them:
# the bench upstreams, easgate and nginx. Expects $work, $pki, $bin, $port_base, $proxy_cpu,
# $load_cpu (empty: no pinning) and $workers; $load_threads (default 1) for each upstream.
#
# Ports: $port_base+0/1/2 are the upstreams (https TLS 1.3, https TLS 1.2, plain http); each proxy
# listens on three ports, one per upstream kind, in the same order: easgate on +10/11/12 (admin on
# +19), nginx on +20/21/22.
upstream_kinds=(tls13 tls12 plain)

pinned() {  # CPU COMMAND...: runs COMMAND on that CPU when pinning is on
  local cpu=$1
  shift
  [ -z "$cpu" ] || set -- taskset -c "$cpu" "$@"
  # Started with &, this is a subshell: exec, so that $! is the command's own PID (to signal it).
  if [ "$BASHPID" != "$$" ]; then exec "$@"; else "$@"; fi
}

remember() { echo "$1 $2" >>"$work/pids"; }  # NAME PID

wait_for_port() {  # PORT [ADDRESS]: until something accepts on ADDRESS (127.0.0.1):PORT (10 s)
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  return 1
}

start_upstreams() {
  local tls=(1.3 1.2) i
  for i in 0 1; do
    pinned "$load_cpu" "$bin/easgate-bench-upstream" --port $((port_base + i)) --cert "$pki/server.pem" \
      --key "$pki/server.key" --tls "${tls[$i]}" --threads "${load_threads:-1}" >"$work/upstream-$i.log" 2>&1 &
    remember upstream $!
  done
  pinned "$load_cpu" "$bin/easgate-bench-upstream" --port $((port_base + 2)) --threads "${load_threads:-1}" \
    >"$work/upstream-2.log" 2>&1 &
  remember upstream $!
  for i in 0 1 2; do wait_for_port $((port_base + i)); done
}

upstream_url() {  # INDEX
  if [ "$1" = 2 ]; then echo "http://127.0.0.1:$((port_base + 2))"; else echo "https://localhost:$((port_base + $1))"; fi
}

easgate_config() {  # the plain-forward configuration: client certificate, then straight to the upstream
  local i
  echo "listeners:"
  for i in 0 1 2; do
    cat <<YAML
  - address: 127.0.0.1
    port: $((port_base + 10 + i))
    certificate: $pki/server.pem
    private_key: $pki/server.key
    client_auth: {mode: required, trusted_ca_file: $pki/device-cas.pem}
    upstream: ${upstream_kinds[$i]}
YAML
  done
  echo "upstreams:"
  for i in 0 1 2; do
    echo "  - {name: ${upstream_kinds[$i]}, servers: [$(upstream_url $i)], ca_file: $pki/server-ca.pem}"
  done
  cat <<YAML
admin: {listen: 127.0.0.1:$((port_base + 19))}
limits: {max_opening_per_address: 0}  # every simulated device comes from 127.0.0.1
logging: {level: info${EASGATE_ACCESS_LOG:+, access_log: $EASGATE_ACCESS_LOG}}
workers: $workers
YAML
}

start_easgate() {
  easgate_config >"$work/easgate.yaml"
  run_easgate "$work/easgate.yaml" $((port_base + 10))
}

run_easgate() {  # CONFIG PORT [ADDRESS]: easgate with that configuration, until it accepts there
  local config=$1
  pinned "$proxy_cpu" "$bin/easgate" run --config "$config" >>"$work/easgate.log" 2>&1 &
  easgate_pid=$!
  remember easgate $easgate_pid
  wait_for_port "$2" "${3:-}"
}

nginx_config() {
  local i
  cat <<NGINX
worker_processes $workers;
user root;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
worker_rlimit_nofile $(ulimit -Hn);
events { worker_connections $(ulimit -Hn); }
http {
  access_log $work/nginx/access.log;
  keepalive_timeout 120s;
  keepalive_requests 1000000;
  client_max_body_size 64m;
  client_body_buffer_size 10m;  # bodies up to easgate's upload_read_ahead are read in memory, then sent
  ssl_session_cache shared:SSL:10m;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header X-Forwarded-For \$remote_addr;
  proxy_read_timeout 3700s;  # a held Ping: up to 59 minutes, as easgate's long-poll deadline
  proxy_ssl_trusted_certificate $pki/server-ca.pem;
  proxy_ssl_verify on;
  proxy_ssl_name localhost;
  proxy_ssl_session_reuse on;
  proxy_ssl_protocols TLSv1.2 TLSv1.3;
  ssl_protocols TLSv1.2 TLSv1.3;  # as easgate's tls_min_version "1.2"
NGINX
  for i in 0 1 2; do
    cat <<NGINX
  upstream ${upstream_kinds[$i]} { server 127.0.0.1:$((port_base + i)); keepalive 1024; }
  server {
    listen 127.0.0.1:$((port_base + 20 + i)) ssl;
    ssl_certificate $pki/server.pem;
    ssl_certificate_key $pki/server.key;
    ssl_client_certificate $pki/device-cas.pem;
    ssl_verify_client on;
    ssl_verify_depth 2;
    location / { proxy_pass $( [ $i = 2 ] && echo http || echo https )://${upstream_kinds[$i]}; }
  }
NGINX
  done
  echo "}"
}

start_nginx() {
  mkdir -p "$work/nginx/logs"
  nginx_config >"$work/nginx/nginx.conf"
  pinned "$proxy_cpu" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" >>"$work/nginx/stderr.log" 2>&1 &
  nginx_pid=$!
  remember nginx $nginx_pid
  wait_for_port $((port_base + 20))
}

stop_pid() {  # PID: SIGTERM, then SIGKILL after 5 s
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
  kill -9 "$1" 2>/dev/null || true
}

stop_easgate() { stop_pid "$easgate_pid"; }
stop_nginx() { stop_pid "$nginx_pid"; }  # the master stops its workers

stop_all() {
  [ -f "$work/pids" ] || return 0
  local name pid
  while read -r name pid; do stop_pid "$pid"; done <"$work/pids"
  rm -f "$work/pids"
}

rss_kib() {  # PID [FIELD]: resident memory of the process and its children (nginx's workers), KiB;
  # FIELD VmHWM for the peak of each
  local total=0 p
  for p in $1 $(pgrep -P "$1"); do
    total=$((total + $(awk -v field="${2:-VmRSS}:" '$1 == field {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
