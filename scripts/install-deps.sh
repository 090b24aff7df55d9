#!/usr/bin/env bash
# Installs what easgate's build and tests need from Debian 12's own repositories (idempotent).
set -euo pipefail
packages=(
  prometheus  # promtool: the end-to-end tests check /metrics with it
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev clang-format
  libboost1.81-all-dev libssl-dev libkrb5-dev libldap2-dev libspdlog-dev libyaml-cpp-dev
  libgtest-dev libcli11-dev nlohmann-json3-dev libsasl2-dev libsystemd-dev openssl curl ca-certificates
  # cpack -G DEB: dpkg-shlibdeps computes Depends, and CPack finds the ELF files with file(1).
  dpkg-dev file
  # package_test: systemd-analyze verify and security, shellcheck on the maintainer scripts.
  systemd shellcheck
  # haproxy_scale_out_test: HAProxy in TCP mode in front of two easgate nodes (never as a service).
  haproxy
  # bench/run.sh: Debian's nginx as the pass-through it compares against (its own prefix, never as
  # a service) and gnuplot for the plot in docs/performance.png.
  nginx gnuplot-nox
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # haproxy's postinst would start haproxy.service: a temporary policy-rc.d denies service starts
  # (invoke-rc.d honours exit 101) unless one is already in place, as in Debian's container images.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The tests start their own haproxy and nginx on loopback; the packaged services must not run or
  # start at boot.
  if command -v systemctl >/dev/null; then systemctl disable --now haproxy nginx >/dev/null 2>&1 || true; fi
fi
