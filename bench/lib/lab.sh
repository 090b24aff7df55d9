# shellcheck shell=bash
# bench/run.sh --lab: the delegation path against tests/lab (Samba AD DC as directory and KDC,
# Apache + mod_auth_gssapi as Exchange). easgate is configured as scripts/demo.sh does; the devices'
# users (bench1@example.test …) are added to the lab's directory in one ldbadd, each in 30 groups. Writes
# lab-sync.json and lab-cold-start.json into $results, each with the KDC exchanges easgate counted
# on /metrics during the run. Starts the lab and stops it at the end.
lab_cold_users=2000 lab_warm_users=20 lab_sync_devices=50

lab_add_users() {  # COUNT: bench1..benchCOUNT, unless the last one exists already
  local count=$1 sam="$LAB_DIR/samba/private/sam.ldb" password n existing
  existing=$(ldbsearch -H "$sam" "(sAMAccountName=bench*)" sAMAccountName 2>/dev/null |
    awk '/^sAMAccountName:/ {printf " %s ", $2}')
  password=$(printf '"%s"' "$LAB_USER_PASSWORD" | iconv -t UTF-16LE | base64 -w0)
  for n in $(seq "$count"); do
    [[ $existing == *" bench$n "* ]] && continue
    printf 'dn: CN=bench%s,CN=Users,%s\nobjectClass: user\nsAMAccountName: bench%s\n' "$n" "$LAB_BASE_DN" "$n"
    printf 'userPrincipalName: bench%s@%s\nmail: bench%s@%s\n' "$n" "$LAB_DNS_DOMAIN" "$n" "$LAB_DNS_DOMAIN"
    printf 'userAccountControl: 512\nunicodePwd:: %s\n\n' "$password"
  done >"$work/bench-users.ldif"
  if [ -s "$work/bench-users.ldif" ]; then
    ldbadd -H "$sam" "$work/bench-users.ldif" >"$work/ldbadd.log" 2>&1 || { tail "$work/ldbadd.log"; return 1; }
  fi
  lab_add_groups "$count"
}

# Each bench user a direct member of lab_groups groups, as an enterprise account is (20 to 50
# memberOf values of ~70 bytes): what the directory answers, easgate caches and every request reads.
lab_groups=30
lab_group_kinds=(Sync Mail Calendar)
lab_group_dn() {  # INDEX
  printf 'CN=GG-Mobile-%s-Region%02d-Staff,OU=Groups,OU=Corp,%s' \
    "${lab_group_kinds[$1 % ${#lab_group_kinds[@]}]}" "$1" "$LAB_BASE_DN"
}

lab_add_groups() {  # COUNT: bench1..benchCOUNT in every group (the groups made if missing)
  local count=$1 sam="$LAB_DIR/samba/private/sam.ldb" g n
  if ! ldbsearch -H "$sam" -b "OU=Groups,OU=Corp,$LAB_BASE_DN" -s base dn 2>/dev/null | grep -q '^dn:'; then
    {
      printf 'dn: OU=Corp,%s\nobjectClass: organizationalUnit\n\n' "$LAB_BASE_DN"
      printf 'dn: OU=Groups,OU=Corp,%s\nobjectClass: organizationalUnit\n\n' "$LAB_BASE_DN"
      for g in $(seq "$lab_groups"); do
        printf 'dn: %s\nobjectClass: group\nsAMAccountName: gg-mobile-%s\n\n' "$(lab_group_dn "$g")" "$g"
      done
    } >"$work/bench-groups.ldif"
    ldbadd -H "$sam" "$work/bench-groups.ldif" >"$work/ldbadd.log" 2>&1 || { tail "$work/ldbadd.log"; return 1; }
  fi
  for g in $(seq "$lab_groups"); do  # replace, not add: the same whether a member already or not
    printf 'dn: %s\nchangetype: modify\nreplace: member\n' "$(lab_group_dn "$g")"
    for n in $(seq "$count"); do printf 'member: CN=bench%s,CN=Users,%s\n' "$n" "$LAB_BASE_DN"; done
    printf '\n'
  done >"$work/bench-members.ldif"
  ldbmodify -H "$sam" "$work/bench-members.ldif" >"$work/ldbmodify.log" 2>&1 || { tail "$work/ldbmodify.log"; return 1; }
}

# config/easgate.demo.yaml on our own port, with /metrics and one worker, access log at info (as
# nginx's, beside which it is measured). The lab's Apache has 512 processes and keeps an idle
# connection 60 s; an Exchange connection only ever carries one user, so 2,000 users' idle
# connections would take them all: easgate keeps at most 200 idle. Every simulated device comes
# from one address: no limit on handshakes per address.
# Two more listeners delegate to the same SPN but forward to easgate-bench-upstream (https, TLS
# 1.3), which ignores the Authorization header: the whole request path of easgate (directory and
# delegation cached) against a fast Exchange stand-in, to put beside nginx's pass-through to the
# same upstream, with a fresh Negotiate token per request, and with one per Exchange connection
# (authenticate: per_connection, as IIS's authPersistNonNTLM allows). The lab's Apache runs a CGI
# per request.
lab_fast_listener() {  # port_base+11: a token per request; +12: per Exchange connection
  local port=11 upstream
  for upstream in bench bench-conn; do
    printf '  - {address: %s, port: %s, certificate: %s, private_key: %s, upstream: %s,\n' \
      "$LAB_GW_IP" $((port_base + port)) "$LAB_GW_CERT" "$LAB_GW_KEY" "$upstream"
    printf '     client_auth: {mode: required, trusted_ca_file: %s}}\n' "$LAB_CA_FILE"
    port=$((port + 1))
  done
}

lab_easgate_config() {
  sed -e "s/^    port: 8443/    port: $((port_base + 10))/" \
    -e "/^listeners:/r"<(lab_fast_listener) -e "/^    service_principal:/r"<(lab_fast_upstream) config/easgate.demo.yaml
  printf 'admin: {listen: 127.0.0.1:%s}\nworkers: %s\n' $((port_base + 19)) "$workers"
  printf 'limits: {max_idle_upstream_connections: 200, max_opening_per_address: 0}\n'
}

lab_fast_upstream() {
  local name authenticate
  for name in bench bench-conn; do
    authenticate=per_request
    [ "$name" = bench ] || authenticate=per_connection
    printf '  - {name: %s, servers: ["%s"], ca_file: %s, service_principal: HTTP/mail.example.test, authenticate: %s}\n' \
      "$name" "$(upstream_url 0)" "$pki/server-ca.pem" "$authenticate"
  done
}

kdc_counts() {  # "S4U2SELF S4U2PROXY" from easgate's /metrics
  curl -s "http://127.0.0.1:$((port_base + 19))/metrics" |
    awk '/^easgate_kdc_s4u2self_total/ {s=$2} /^easgate_kdc_s4u2proxy_total/ {p=$2} END {print s+0, p+0}'
}

lab_loadgen() {  # JSON ARGS...: easgate-loadgen against the lab's easgate, minting from the lab's issuing CA
  local json=$1
  shift
  pinned "$load_cpu" "$bin/easgate-loadgen" --host "$LAB_GW_IP" --port "${lab_port:-$((port_base + 10))}" --label easgate \
    --threads "${load_threads:-1}" \
    --json "$json" --client-ca-cert "$LAB_ISSUING_CA_CERT" --client-ca-key "$LAB_ISSUING_CA_KEY" \
    --upn-pattern "bench{n}@$LAB_DNS_DOMAIN" "$@" 2> >(grep -v '^minted' | tee -a "$work/loadgen.log" >&2)
}

lab_measure() {  # NAME ARGS...: one run, its KDC exchanges added to its JSON
  local name=$1 before after
  shift
  before=$(kdc_counts)
  lab_loadgen "$results/$name.json" "$@"
  after=$(kdc_counts)
  python3 - "$results/$name.json" "$before" "$after" <<'PY'
import json, sys
path, before, after = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
result = json.load(open(path))
result["kdc"] = {"s4u2self": int(float(after[0]) - float(before[0])), "s4u2proxy": int(float(after[1]) - float(before[1]))}
json.dump(result, open(path, "w"), indent=2)
print(f"{path}: KDC exchanges during the run: {result['kdc']}", file=sys.stderr)
PY
}

# Memory per held Ping on the whole path, as production runs it: the cold start's users (their
# directory answers, 30 groups each, and tickets cached by it) each hold a Ping through the fast
# listener (a token per request). Written as memory-easgate-lab-cached.json.
lab_ping_memory() {
  local out="$work/lab-ping.out" before held_rss loadgen_pid
  echo "== lab ping-hold: $lab_cold_users users' Pings held, on the whole path" >&2
  sleep "$((smoke ? 0 : 1))"
  before=$(rss_kib "$easgate_pid")
  lab_port=$((port_base + 11)) lab_loadgen "$results/lab-ping-hold.json" --scenario ping-hold \
    --devices "$lab_cold_users" --hold 900 --settle 2 --connect-parallel 128 >"$out" &
  loadgen_pid=$!
  wait_for_line "$out" "^held " 300
  held_rss=$(rss_kib "$easgate_pid")
  kill -USR1 "$loadgen_pid"
  wait "$loadgen_pid" || true
  memory_json "$results/memory-easgate-lab-cached.json" easgate lab cached "$before" "$held_rss" "$out" \
    "{\"groups\": $lab_groups}"
}

run_lab_scenarios() {
  bash tests/lab/start.sh >"$work/lab-start.log" 2>&1 || { tail -20 "$work/lab-start.log"; return 1; }
  # shellcheck disable=SC1091
  . /tmp/easgate-lab/lab.env
  local users=$((lab_cold_users + lab_warm_users + lab_sync_devices))
  echo "== adding $users users to the lab directory" >&2
  lab_add_users "$users"
  start_upstreams
  start_nginx
  lab_easgate_config >"$work/easgate-lab.yaml"
  run_easgate "$work/easgate-lab.yaml" $((port_base + 10)) "$LAB_GW_IP"
  echo "== lab sync: $lab_sync_devices devices, full delegation, tickets cached" >&2
  local first_sync=$((lab_cold_users + lab_warm_users + 1))
  lab_loadgen "$work/lab-warmup.json" --scenario sync --concurrency "$lab_sync_devices" --duration 2 \
    --first-device "$first_sync"
  lab_measure lab-sync --scenario sync --concurrency "$lab_sync_devices" --duration "$((smoke ? 2 : 10))" \
    --first-device "$first_sync"
  echo "== lab sync, fast upstream: easgate's whole path beside nginx's pass-through" >&2
  lab_port=$((port_base + 11)) lab_loadgen "$work/lab-fast-warmup.json" --scenario sync \
    --concurrency "$lab_sync_devices" --duration 2 --first-device "$first_sync"
  lab_port=$((port_base + 12)) lab_loadgen "$work/lab-fast-conn-warmup.json" --scenario sync \
    --concurrency "$lab_sync_devices" --duration 2 --first-device "$first_sync"
  local round target
  for round in $(seq "$rounds"); do
    lab_port=$((port_base + 11)) lab_measure "lab-fast-easgate-r$round" --scenario sync \
      --concurrency "$lab_sync_devices" --duration "$((smoke ? 2 : 10))" --first-device "$first_sync"
    lab_port=$((port_base + 12)) lab_measure "lab-fast-conn-easgate-r$round" --scenario sync \
      --concurrency "$lab_sync_devices" --duration "$((smoke ? 2 : 10))" --first-device "$first_sync"
    loadgen nginx "$results/lab-fast-nginx-r$round.json" --scenario sync --concurrency "$lab_sync_devices" \
      --duration "$((smoke ? 2 : 10))"
  done
  # Issue 13's latency target: the p99 easgate adds over the upstream alone at half load, the same
  # rate offered to each (direct: the load generator straight to the fast upstream).
  local half
  half=$(json_number "$results/lab-fast-easgate-r1.json" "max(100, int(d['req_per_s'] / 2))")
  echo "== lab sync at half load ($half requests/s): easgate, nginx, direct" >&2
  for round in $(seq "$rounds"); do
    lab_port=$((port_base + 11)) lab_measure "lab-fast-half-easgate-r$round" --scenario sync --rate "$half" \
      --concurrency "$lab_sync_devices" --duration "$((smoke ? 2 : 10))" --first-device "$first_sync"
    for target in nginx direct; do
      loadgen "$target" "$results/lab-fast-half-$target-r$round.json" --scenario sync --rate "$half" \
        --concurrency "$lab_sync_devices" --duration "$((smoke ? 2 : 10))"
    done
  done
  echo "== lab cold-start: $lab_cold_users users' first requests, $lab_warm_users warm users meanwhile" >&2
  # Against the fast upstream: through the lab's Apache (a CGI per request, on a machine the DC
  # keeps busy) the warm users' latency would be Apache's, not easgate's.
  local logged
  logged=$(log_lines)
  lab_port=$((port_base + 11)) lab_measure lab-cold-start --scenario cold-start --devices "$lab_cold_users" --concurrency "$lab_warm_users" \
    --rate 100 --timeout 60 --connect-parallel 128
  # The warm users' cached requests during the storm as easgate timed them: its own share of what
  # the load generator measured, which also holds its own core's and the upstream's delays.
  inside_easgate "$results/lab-cold-start.json" warm "$logged" 1 "$lab_warm_users" cache_hit=yes
  lab_ping_memory
  stop_all
  bash tests/lab/stop.sh >"$work/lab-stop.log" 2>&1 || true
}
