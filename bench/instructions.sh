#!/usr/bin/env bash
# Instructions per plain-forward request, counted by callgrind: the figure this machine's noise does
# not move (wall-clock A/B runs here differ by ±20 %). The proxy runs under callgrind with the bench's
# configuration (the TLS 1.3 upstream); easgate-loadgen sends `sync` requests from 10 kept-alive
# devices; instrumentation is on for a window after the handshakes are done, and the requests in
# that window (easgate's /metrics, nginx's access log) divide its instructions.
#   bash bench/instructions.sh easgate [BINARY]   easgate (default build/bin/easgate)
#   bash bench/instructions.sh easgate-lab [BINARY] the whole delegation path, directory and tickets
#                                                 cached, a fresh Negotiate token per request: the lab's
#                                                 KDC and directory (tests/lab, started and stopped
#                                                 here), the same fast upstream (bench/lib/lab.sh)
#   bash bench/instructions.sh nginx              Debian's nginx, one process (master_process off)
# KEEP=FILE keeps the callgrind profile; CONCURRENCY, WARM (s, 15), WINDOW (s, 12) change the load.
# Needs valgrind. Only loopback addresses; everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: bench/instructions.sh easgate|easgate-lab|nginx [BINARY]}
root=$PWD bin=$root/build/bin workers=1 proxy_cpu="" load_cpu="" port_base=20000
work=$(mktemp -d /tmp/easgate-instructions.XXXXXX) pki=$work/pki
# shellcheck source=bench/lib/pki.sh
. bench/lib/pki.sh
# shellcheck source=bench/lib/targets.sh
. bench/lib/targets.sh
trap 'stop_all; rm -rf "$work"' EXIT
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind" >&2; exit 1; }
# The load generator and the upstream (a plain build leaves the instrument out).
cmake --build build --target easgate-bench >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
make_bench_pki "$pki" 2>/dev/null
start_upstreams
host=127.0.0.1 device_ca=("--client-ca-cert" "$pki/issuing.pem" "--client-ca-key" "$pki/issuing.key")
callgrind=(valgrind --tool=callgrind --instr-atstart=no "--callgrind-out-file=$work/callgrind.out")
case $target in
easgate)
  easgate_config >"$work/easgate.yaml"
  "${callgrind[@]}" "${2:-$bin/easgate}" run --config "$work/easgate.yaml" >"$work/proxy.log" 2>&1 &
  port=$((port_base + 10)) ;;
easgate-lab)
  trap 'stop_all; bash tests/lab/stop.sh >/dev/null 2>&1; rm -rf "$work"' EXIT
  bash tests/lab/start.sh >"$work/lab-start.log" 2>&1 || { tail -20 "$work/lab-start.log" >&2; exit 1; }
  # shellcheck disable=SC1091
  . /tmp/easgate-lab/lab.env
  # shellcheck source=bench/lib/lab.sh
  . bench/lib/lab.sh
  lab_add_users "${CONCURRENCY:-10}"
  lab_easgate_config >"$work/easgate.yaml"
  "${callgrind[@]}" "${2:-$bin/easgate}" run --config "$work/easgate.yaml" >"$work/proxy.log" 2>&1 &
  host=$LAB_GW_IP port=$((port_base + 11))
  device_ca=(--client-ca-cert "$LAB_ISSUING_CA_CERT" --client-ca-key "$LAB_ISSUING_CA_KEY" --upn-pattern "bench{n}@$LAB_DNS_DOMAIN") ;;
nginx)
  mkdir -p "$work/nginx/logs"
  nginx_config | sed 's/^daemon off;/daemon off;\nmaster_process off;/' >"$work/nginx/nginx.conf"
  "${callgrind[@]}" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" >"$work/proxy.log" 2>&1 &
  port=$((port_base + 20))
  served() { wc -l <"$work/nginx/access.log"; } ;;
*) echo "usage: bench/instructions.sh easgate|easgate-lab|nginx [BINARY]" >&2; exit 2 ;;
esac
[ "$target" = nginx ] ||
  served() { curl -s "http://127.0.0.1:$((port_base + 19))/metrics" | awk '/^easgate_requests_total/ {s += $2} END {print s + 0}'; }
proxy=$!
remember proxy $proxy
wait_for_port "$port" "$host"
warm=${WARM:-15} window=${WINDOW:-12}
"$bin/easgate-loadgen" --host "$host" --port "$port" --label "$target" --json "$work/load.json" "${device_ca[@]}" \
  --scenario sync --concurrency "${CONCURRENCY:-10}" \
  --duration $((warm + window + 5)) >"$work/load.log" 2>&1 &
load=$!
sleep "$warm"
before=$(served)
callgrind_control -i on "$proxy" >/dev/null
sleep "$window"
callgrind_control -i off "$proxy" >/dev/null
after=$(served)
callgrind_control -d "$proxy" >/dev/null
wait "$load" || true
profile=$(ls -t "$work"/callgrind.out* | head -1)
total=$(callgrind_annotate "$profile" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
[ -z "${KEEP:-}" ] || cp "$profile" "$KEEP"
echo "$target: $((after - before)) requests, $((total / (after - before))) instructions per request"
