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
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
