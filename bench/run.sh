#!/usr/bin/env bash
# The benchmark: easgate side by side with Debian's nginx (client-certificate pass-through, upstream
# keepalive) and with the upstream directly, every scenario against each in the same run,
# alternating; the proxy pinned to CPU 0, easgate-loadgen and easgate-bench-upstream to CPU 1.
# Writes the results as JSON into a results directory and renders docs/performance.md and
# docs/performance.png from them.
#   bash bench/run.sh                  everything but the lab (several minutes)
#   bash bench/run.sh --smoke          ~10 s, small numbers, into a temporary directory; fails on any
#                                      error or a scenario without throughput (CI runs this)
#   bash bench/run.sh --scenarios sync,ping-hold   only these (sync handshake sendmail cold-start
#                                      ping-hold scaling)
#   bash bench/run.sh --lab            the delegation scenarios against tests/lab (bench/lib/lab.sh)
#   bash bench/run.sh --results DIR    keep the results there (default bench/results/<time>); the
#                                      docs are rendered from all results in DIR (--lab adds to a run's)
# BENCH_NOTE="…" puts a sentence at the top of docs/performance.md (e.g. that the machine was busy).
# Only loopback addresses; everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
smoke=0 lab=0 scenarios="sync handshake sendmail cold-start ping-hold scaling" results=""
while [ $# -gt 0 ]; do
  case $1 in
  --smoke) smoke=1 ;;
  --lab) lab=1 ;;
  --scenarios) scenarios=${2//,/ }; shift ;;
  --results) results=$2; shift ;;
  *) echo "usage: bench/run.sh [--smoke] [--lab] [--scenarios a,b] [--results DIR]" >&2; exit 2 ;;
  esac
  shift
done

work=$(mktemp -d /tmp/easgate-bench.XXXXXX)
if [ -z "$results" ]; then
  if [ "$smoke" = 1 ]; then results=$work/results; else results=$root/bench/results/$(date -u +%Y%m%dT%H%M%SZ); fi
fi
mkdir -p "$results"
# A sentence for the top of docs/performance.md, kept with the results (e.g. "a busy machine").
[ -z "${BENCH_NOTE:-}" ] || echo "$BENCH_NOTE" >"$results/note.md"
bin=$root/build/bin pki=$work/pki workers=1 rounds=$((smoke ? 1 : 2)) ping_devices=$((smoke ? 50 : 9000))
# shellcheck source=bench/lib/pki.sh
. bench/lib/pki.sh
# shellcheck source=bench/lib/targets.sh
. bench/lib/targets.sh
# shellcheck source=bench/lib/scenarios.sh
. bench/lib/scenarios.sh
cleanup() {
  stop_all
  if [ "$smoke" = 1 ] && [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$work"; else echo "logs: $work" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Each held Ping costs the proxy two descriptors (device and upstream): up to the hard limit.
ulimit -n "$(ulimit -Hn)"
# Where each runs. On two or three cores: the proxy on CPU 0, the load generator and the upstreams
# on CPU 1, one thread each (scaling's second proxy thread then shares CPU 1 with them). From four
# on: the proxy has CPUs 0 and 1 (one thread on 0), the load the rest, the load generator and each
# upstream with a thread per two of those cores. What a run used goes with its results (layout.txt).
cpus=$(nproc) proxy_cpu="" proxy_cpus_two="" load_cpu="" load_threads=1
if [ "$cpus" -ge 4 ]; then
  proxy_cpu=0 proxy_cpus_two=0,1 load_cpu=2-$((cpus - 1)) load_threads=$(((cpus - 2 + 1) / 2))
elif [ "$cpus" -ge 2 ]; then
  proxy_cpu=0 proxy_cpus_two=0,1 load_cpu=1
fi
echo "cpus=$cpus proxy=$proxy_cpu proxy_two=$proxy_cpus_two load=$load_cpu load_threads=$load_threads" >"$results/layout.txt"
# A block of 30 ports no socket uses, below the ephemeral range (10000-31999).
port_base=$(python3 - <<'PY'
import random
used = set()
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(table).readlines()[1:]:
        used.add(int(line.split()[1].rsplit(":", 1)[1], 16))
bases = [b for b in random.sample(range(10000, 32000, 30), 200) if used.isdisjoint(range(b, b + 30))]
print(bases[0])
PY
)

if [ ! -x "$bin/easgate-loadgen" ] || [ "$smoke" = 0 ]; then
  echo "== build (Release, $root/build)" >&2
  [ -f build/CMakeCache.txt ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build --target easgate easgate-loadgen easgate-bench-upstream >"$work/build.log" 2>&1 ||
    { tail -30 "$work/build.log"; exit 1; }
fi
command -v nginx >/dev/null || { echo "nginx is missing: scripts/install-deps.sh installs it" >&2; exit 1; }
make_bench_pki "$pki"
# The request path's coroutine frames against what Asio recycles, for the docs (bench/frames.sh).
bash bench/frames.sh "$bin/easgate" >"$results/frames.txt" 2>/dev/null || echo "bench/frames.sh failed" >&2

if [ "$lab" = 1 ]; then
  # shellcheck source=bench/lib/lab.sh
  . bench/lib/lab.sh
  run_lab_scenarios
else
  for scenario in $scenarios; do
    echo "== $scenario" >&2
    stop_all
    start_upstreams
    start_easgate
    start_nginx
    "scenario_${scenario//-/_}"
  done
  stop_all
fi

if [ "$smoke" = 1 ]; then
  python3 bench/report.py check "$results"
else
  python3 bench/report.py render "$results" docs/performance.md docs/performance.png
  echo "results: $results; docs/performance.md and docs/performance.png rendered" >&2
fi
