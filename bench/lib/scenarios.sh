# shellcheck shell=bash
# The scenarios of bench/run.sh. Each writes one JSON file per target and round into $results
# (SCENARIO-TARGET-rROUND.json, as easgate-loadgen writes it) and the ping-hold memory figures as
# memory-TARGET-KIND-STATE.json. Expects targets.sh, $results, $rounds, $smoke, $ping_devices.

target_port() {  # TARGET [KIND INDEX]: direct, easgate or nginx
  local kind=${2:-0}
  case $1 in
  direct) echo $((port_base + kind)) ;;
  easgate) echo $((port_base + 10 + kind)) ;;
  nginx) echo $((port_base + 20 + kind)) ;;
  esac
}

loadgen() {  # TARGET JSON ARGS...: easgate-loadgen against TARGET's TLS 1.3 path
  local target=$1
  shift
  loadgen_at "$(target_port "$target")" "$target" "$@"
}

targets_in_turn() {  # ROUND: easgate, nginx, direct; every other round backwards
  if [ $(($1 % 2)) = 1 ]; then echo easgate nginx direct; else echo direct nginx easgate; fi
}

each_target() {  # NAME ARGS...: the scenario against every target, alternating, $rounds times
  local name=$1 round target
  shift
  for round in $(seq "$rounds"); do
    for target in $(targets_in_turn "$round"); do
      loadgen "$target" "$results/$name-$target-r$round.json" "$@"
    done
  done
}

json_number() {  # FILE EXPRESSION: a number out of a results file, e.g. "d['req_per_s']"
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

scenario_sync() {
  local seconds=10
  [ "$smoke" = 0 ] || seconds=0.5
  each_target sync --scenario sync --concurrency 50 --duration "$seconds"
  # p99 at half load: half of what easgate sustained, offered to every target alike.
  local rate
  rate=$(json_number "$results/sync-easgate-r1.json" "max(100, int(d['req_per_s'] / 2))")
  each_target sync-half --scenario sync --concurrency 50 --duration "$seconds" --rate "$rate"
}

scenario_handshake() {
  local seconds=8
  [ "$smoke" = 0 ] || seconds=0.5
  each_target handshake --scenario handshake --concurrency 50 --duration "$seconds"
  each_target handshake-resume --scenario handshake --resume --concurrency 50 --duration "$seconds"
}

scenario_sendmail() {
  if [ "$smoke" = 1 ]; then
    each_target sendmail --scenario sendmail --concurrency 2 --body-size $((1024 * 1024)) --duration 0.5
  else
    each_target sendmail --scenario sendmail --concurrency 4 --body-size $((10 * 1024 * 1024)) --duration 10
  fi
  # The peak resident memory of each proxy over the uploads (easgate's 10 MiB read-ahead each).
  python3 -c 'import json, sys; json.dump({"easgate_peak_kib": int(sys.argv[1]), "nginx_peak_kib": int(sys.argv[2])}, open(sys.argv[3], "w"))' \
    "$(rss_kib "$easgate_pid" VmHWM)" "$(rss_kib "$nginx_pid" VmHWM)" "$results/peak-sendmail.json"
}

scenario_cold_start() {
  if [ "$smoke" = 1 ]; then
    each_target cold-start --scenario cold-start --devices 50 --concurrency 5 --rate 200
  else
    each_target cold-start --scenario cold-start --devices 2000 --concurrency 20 --rate 1000
  fi
}

# One memory figure (leaves nothing running): a fresh proxy (and upstreams), optionally churned first (thousands of
# connections opened and closed, then an idle sync run), then $ping_devices Pings held; for TLS 1.3
# after churn, a sync run while they are held. TARGET direct: no proxy, the Pings held by the
# upstream itself, for the sync figures only (what the load generator and the upstream add to them).
measure_ping_memory() {  # TARGET KIND_INDEX STATE(fresh|churn)
  local target=$1 kind=$2 state=$3 name="$1-${upstream_kinds[$2]}-$3"
  stop_all
  start_upstreams
  [ "$target" = direct ] || "start_$target"
  local pid_var="${target}_pid" port logged first_sync=$((200001 + ping_devices)) sync_seconds=$((smoke ? 1 : 5))
  local syncs_while_held=0  # the TLS 1.3 upstream after churn: the figure the issue asks for
  [ "$state" = churn ] && [ "$kind" = 0 ] && syncs_while_held=1
  port=$(target_port "$target" "$kind")
  if [ "$state" = churn ]; then
    loadgen_at "$port" "$target" "$results/churn-$name.json" --scenario handshake --concurrency 50 \
      --duration "$((smoke ? 1 : 4))"
    logged=$(log_lines)
    loadgen_at "$port" "$target" "$results/idle-sync-$name.json" --scenario sync --concurrency 10 \
      --duration "$sync_seconds" --first-device 100001
    [ "$target" != easgate ] || inside_easgate "$results/idle-sync-$name.json" . "$logged" 100001 100010
  fi
  sleep "$((smoke ? 0 : 1))"
  local before=0 held_rss=0 out="$work/ping-$name.out"
  [ "$target" = direct ] || before=$(rss_kib "${!pid_var}")
  loadgen_at "$port" "$target" "$results/ping-hold-$name.json" --scenario ping-hold --devices "$ping_devices" \
    --sync-concurrency 10 --duration "$sync_seconds" --hold 900 --settle "$((smoke ? 1 : 2))" \
    --first-device 200001 >"$out" &
  local loadgen_pid=$!
  wait_for_line "$out" "^held " 300
  [ "$target" = direct ] || held_rss=$(rss_kib "${!pid_var}")
  logged=$(log_lines)
  if [ "$syncs_while_held" = 1 ]; then
    kill -USR2 "$loadgen_pid"
    # Not polled meanwhile: a grep and a sleep forked every 0.1 s land on the measured cores, and
    # put the sync p99 at 4x its idle figure even with one Ping held (s22-s25's "5.2x").
    sleep "$sync_seconds"
    wait_for_line "$out" "^sync done" 120
  fi
  kill -USR1 "$loadgen_pid"
  wait "$loadgen_pid" || true
  if [ "$target" = easgate ] && [ "$syncs_while_held" = 1 ]; then
    inside_easgate "$results/ping-hold-$name.json" sync "$logged" "$first_sync" $((first_sync + 9))
  fi
  if [ "$target" != direct ]; then
    memory_json "$results/memory-$name.json" "$target" "${upstream_kinds[$kind]}" "$state" "$before" "$held_rss" "$out"
  fi
  stop_all
}

# Writes OUT, a memory-*.json: the RSS (KiB) before and with the Pings held, and how many the load
# generator's output PING_OUT says were held; EXTRA (a JSON object) is merged in.
memory_json() {  # OUT TARGET UPSTREAM STATE RSS_BEFORE RSS_HELD PING_OUT [EXTRA]
  local extra=${8:-}
  [ -n "$extra" ] || extra='{}'
  python3 - "$1" "$2" "$3" "$4" "$5" "$6" "$(awk '/^held/ {print $2}' "$7")" "$extra" <<'PY'
import json, os, sys
out, target, kind, state, before, held_rss, held, extra = sys.argv[1:]
held = int(held or 0)
per_ping = (int(held_rss) - int(before)) / held if held else None
json.dump({"target": target, "upstream": kind, "state": state, "rss_before_kib": int(before),
           "rss_held_kib": int(held_rss), "held": held, "kib_per_ping": per_ping, **json.loads(extra)},
          open(out, "w"))
print(f"{os.path.basename(out)}: {per_ping} KiB per held Ping ({held} held)", file=sys.stderr)
PY
}

log_lines() { wc -l <"$work/easgate.log" 2>/dev/null || echo 0; }  # how far easgate's log is

proxy_cpu_ticks() {  # TARGET: CPU time (utime + stime, clock ticks) of the proxy's processes so far
  local pids=()
  case $1 in
  easgate) pids=("$easgate_pid") ;;
  nginx) mapfile -t pids < <(echo "$nginx_pid"; pgrep -P "$nginx_pid") ;;
  *) echo 0; return ;;
  esac
  local pid total=0
  for pid in "${pids[@]}"; do
    # Fields 14 and 15 after the "(comm)" field, which may hold spaces.
    total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
  done
  echo "$total"
}

loadgen_at() {  # PORT TARGET JSON ARGS...: easgate-loadgen against one port; adds the proxy's CPU time
  local port=$1 target=$2 json=$3 before
  shift 3
  before=$(proxy_cpu_ticks "$target")
  pinned "$load_cpu" "$bin/easgate-loadgen" --port "$port" --label "$target" --json "$json" \
    --threads "${load_threads:-1}" --client-ca-cert "$pki/issuing.pem" --client-ca-key "$pki/issuing.key" "$@" \
    2> >(grep -v '^minted' | tee -a "$work/loadgen.log" >&2)
  add_cpu_per_request "$json" "$before" "$(proxy_cpu_ticks "$target")"
}

add_cpu_per_request() {  # JSON TICKS_BEFORE TICKS_AFTER: cpu_us_per_request (the proxy's, all threads)
  python3 - "$@" "$(getconf CLK_TCK)" <<'PY'
import json, sys
path, before, after, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
result = json.load(open(path))
if result.get("requests") and after > before:
    result["cpu_us_per_request"] = (after - before) * 1e6 / hz / result["requests"]
    json.dump(result, open(path, "w"), indent=2)
PY
}

# Requests as easgate's access log timed them (from the request's first byte to the answer's last,
# upstream included): p50, p99 and max of ms=, and the p99 of upstream_ms= (from sending to Exchange
# to its answer's header), over the POSTs of devices FIRST..LAST in the log's lines after SKIP
# (whose text has MUST, if given), into JSON[KEY]["inside_ms"] (KEY ".": JSON itself).
inside_easgate() {  # JSON KEY SKIP FIRST LAST [MUST]
  python3 - "$work/easgate.log" "$@" <<'PY'
import json, re, sys
log, path, key, skip, first, last = sys.argv[1:7]
must = sys.argv[7] if len(sys.argv) > 7 else ""
pattern = re.compile(r'"POST .* ms=(\d+) .*device_id=BENCH(\d+) .*upstream_ms=(\d+)')
ms, upstream = [], []
for number, line in enumerate(open(log, errors="replace")):
    m = pattern.search(line) if number >= int(skip) and must in line else None
    if m and int(first) <= int(m.group(2)) <= int(last):
        ms.append(int(m.group(1)))
        upstream.append(int(m.group(3)))
result = json.load(open(path))
into = result if key == "." else result[key]
if ms:
    ms.sort(), upstream.sort()
    at = lambda values, q: values[min(len(values) - 1, int(q * len(values)))]
    into["inside_ms"] = {"requests": len(ms), "p50": at(ms, 0.5), "p99": at(ms, 0.99), "max": ms[-1],
                         "upstream_p99": at(upstream, 0.99)}
json.dump(result, open(path, "w"), indent=2)
print(f"{path}: {key} inside easgate: {into.get('inside_ms')}", file=sys.stderr)
PY
}

wait_for_line() {  # FILE PATTERN SECONDS
  for _ in $(seq $(($3 * 10))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no '$2' in $1 within $3 s" >&2
  return 1
}

scenario_ping_hold() {
  local kinds=(0 1 2) states=(fresh churn) target kind state
  [ "$smoke" = 1 ] && kinds=(0) && states=(churn)
  for kind in "${kinds[@]}"; do
    for state in "${states[@]}"; do
      for target in easgate nginx; do measure_ping_memory "$target" "$kind" "$state"; done
    done
  done
  measure_ping_memory direct 0 churn  # the sync while held, without a proxy
}

# easgate with one I/O thread on CPU 0, then two on CPUs 0 and 1; nginx likewise with one and two
# worker processes. On a machine of two or three cores the load generator and the upstream run on
# CPU 1 too, so with two threads the proxy shares that core with them: the figure shows the
# direction, not the 1.8× two quiet cores would allow. From four cores on the load has cores of
# its own (run.sh).
scenario_scaling() {
  local seconds=10 threads target
  [ "$smoke" = 0 ] || seconds=0.5
  for threads in 1 2; do
    for target in easgate nginx; do
      stop_all
      start_upstreams
      workers=$threads proxy_cpu=$([ "$threads" = 2 ] && echo "$proxy_cpus_two" || echo "$proxy_cpu") \
        "start_$target"
      loadgen "$target" "$results/scaling-w$threads-$target-r1.json" --scenario sync --concurrency 50 \
        --duration "$seconds"
    done
  done
}
