#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, with ASan + UBSan) and runs each for SECONDS (default 60)
# from a copy of its seed corpus in tests/fuzz/corpus, so nothing is written into the checkout.
# Runs as many at once as there are cores; fails when any target finds a crash, leak or broken
# invariant, and leaves the input that did it in build-fuzz/crashes/.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#   scripts/fuzz.sh --build-only     (builds the targets, runs none: scripts/test.sh, ahead)
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=0
if [ "${1:-}" = "--build-only" ]; then build_only=1; shift; fi
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_certificate_identity fuzz_eas_request fuzz_header_rewrite fuzz_long_poll fuzz_proxy_header fuzz_kerberos_error_token)
jobs=$(nproc)

cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DEASGATE_FUZZ=ON -DEASGATE_SANITIZE=ON -DEASGATE_TESTS=OFF -DEASGATE_WERROR=ON >/dev/null
cmake --build build-fuzz -j "$jobs" --target "${targets[@]}"
[ "$build_only" = 0 ] || exit 0
mkdir -p build-fuzz/crashes
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One target: a closing line with its figures, or its log's end and a failure.
fuzz() {
  local target=$1 log="$work/$1.log"
  cp -r "tests/fuzz/corpus/$target" "$work/$target"
  if build-fuzz/bin/"$target" -max_total_time="$seconds" -timeout=10 -artifact_prefix="build-fuzz/crashes/$target-" \
    "$work/$target" >"$log" 2>&1; then
    echo "== fuzz $target: ${seconds} s, no crash: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)"
  else
    tail -n 40 "$log"
    echo "== fuzz $target: FAILED (input in build-fuzz/crashes/$target-*)"
    return 1
  fi
}

failed=0
running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  fuzz "$target" &
  running=$((running + 1))
done
for _ in $(seq "$running"); do wait -n || failed=1; done
exit "$failed"
