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

phase "build (Release)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DEASGATE_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
phase "build (ASan + UBSan, clang)"
# clang: a second compiler's warnings, and it builds this about twice as fast as GCC (the Release
# build stays GCC's, Debian's compiler). The benchmark is built (and smoke-run) in Release only;
# line tables (-g1) are all a sanitizer's stack trace needs. The sources compile in batches of 8
# here (CMAKE_UNITY_BUILD: 296 s instead of 394 s on CI's two cores); the Release build keeps one
# file per unit, so each file still has to compile on its own.
cmake -S . -B build-asan -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
  -DEASGATE_SANITIZE=ON -DEASGATE_WERROR=ON -DEASGATE_BENCH=OFF -DCMAKE_UNITY_BUILD=ON >/dev/null
cmake --build build-asan -j "$jobs"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"
phase "tests (ASan + UBSan)"
ctest --test-dir build-asan --output-on-failure -j "$jobs"
phase "tests (Release)"
ctest --test-dir build --output-on-failure -j "$jobs"
phase "benchmark smoke (bench/run.sh --smoke: every scenario, small, against easgate, nginx, direct)"
bash bench/run.sh --smoke
phase "fuzzing (each target 30 s)"
scripts/fuzz.sh 30
phase "done"
