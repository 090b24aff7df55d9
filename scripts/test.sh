#!/usr/bin/env bash
# Runs every test: installs the Debian packages, builds easgate twice (Release, as admins and the
# package build it, and with AddressSanitizer + UndefinedBehaviorSanitizer), warnings as errors,
# runs the unit and end-to-end tests of both, a 10-second smoke of the benchmark (so bench/ can't
# rot; no speed is asserted), then runs each libFuzzer target for 30 s (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
tests/lab/install-packages.sh  # the loopback AD domain and Kerberos backend the lab tests use
jobs=$(nproc)
# Each phase's heading says when it began (minutes into the run), so a slow phase shows in CI's log.
phase() { echo "== $* (at $((SECONDS / 60))m$((SECONDS % 60))s)"; }

phase "build (Release; bench/ later)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DEASGATE_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
# A build that runs while a test phase does: those mostly wait (on the lab's DCs, on timeouts
# they provoke; the Release tests keep about a third of the two cores busy), and at nice 19 the
# compiler takes only what they leave. Its own session, so that a failing run stops it whole.
background_build() {
  local log=$1
  shift
  setsid --wait nice -n 19 "$@" >"$log" 2>&1 &
  background=$!
}
background=
trap '[ -z "$background" ] || kill -- "-$background" 2>/dev/null || true' EXIT
finish_background_build() {
  local log=$1
  if ! wait "$background"; then
    cat "$log"
    echo "== $2 FAILED"
    exit 1
  fi
  background=
  cat "$log"
}

phase "build (ASan + UBSan, clang), at nice 19 while the Release tests run"
# clang: a second compiler's warnings, and it builds this about twice as fast as GCC (the Release
# build stays GCC's, Debian's compiler). The benchmark is built (and smoke-run) in Release only;
# line tables (-g1) are all a sanitizer's stack trace needs. The sources compile in batches of 8
# here (CMAKE_UNITY_BUILD: 296 s instead of 394 s on CI's two cores); the Release build keeps one
# file per unit, so each file still has to compile on its own.
cmake -S . -B build-asan -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
  -DEASGATE_SANITIZE=ON -DEASGATE_WERROR=ON -DEASGATE_BENCH=OFF -DCMAKE_UNITY_BUILD=ON >/dev/null
background_build build-asan/build.log cmake --build build-asan -j "$jobs"
phase "tests (Release)"
ctest --test-dir build --output-on-failure -j "$jobs"
phase "the ASan + UBSan build's end"
finish_background_build build-asan/build.log "build (ASan + UBSan)"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"
background_build build/rest.log bash -c "cmake --build build -j $jobs --target easgate-bench && scripts/fuzz.sh --build-only"
phase "tests (ASan + UBSan), the benchmark instrument and the fuzz targets building at nice 19"
ctest --test-dir build-asan --output-on-failure -j "$jobs"
phase "the build of the benchmark instrument and the fuzz targets: its end"
finish_background_build build/rest.log "build of the benchmark instrument and the fuzz targets"
phase "benchmark smoke (bench/run.sh --smoke: every scenario, small, against easgate, nginx, direct)"
bash bench/run.sh --smoke
phase "fuzzing (each target 30 s)"
scripts/fuzz.sh 30
phase "done"
