#!/usr/bin/env bash
# The .deb as an admin gets it: builds it from a build directory with cpack and checks its
# contents, its control data, the extracted binary, the systemd unit (systemd-analyze verify and
# security) and the maintainer scripts; as root, also installs, reinstalls, removes and purges it
# with the real dpkg inside a throwaway overlay of / (a private mount namespace), so the host is
# never changed. Exits 77 (skipped) when that last part can't run here, after all other checks.
#   tests/packaging/package_test.sh BUILD_DIR VERSION
set -euo pipefail

build=$(cd "$1" && pwd)
version=$2
# The overall exposure systemd-analyze security gives the unit (1.4 when written): any loosening
# of the sandbox fails the test.
max_exposure=1.5

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

echo "== cpack -G DEB (into $work/out)"
(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack -G DEB failed"; }
deb=$(find "$work/out" -maxdepth 1 -name "easgate_${version}_*.deb")
[ -n "$deb" ] || fail "no easgate_${version}_*.deb in $work/out: $(ls "$work/out")"
pass "built $(basename "$deb")"

echo "== contents (dpkg-deb -c)"
dpkg-deb -c "$deb" >"$work/contents"
for path in ./usr/sbin/easgate ./lib/systemd/system/easgate.service ./etc/easgate/easgate.yaml \
  ./usr/share/doc/easgate/README.md ./usr/share/doc/easgate/admin-guide.md \
  ./usr/share/doc/easgate/forwarding.md ./usr/share/doc/easgate/easgate.example.yaml \
  ./usr/share/doc/easgate/LICENSE ./etc/logrotate.d/easgate; do
  grep -q " $path\$" "$work/contents" || fail "$path is not in the package"
done
grep -Eq '^drwxr-x--- root/root .* \./etc/easgate/$' "$work/contents" || fail "/etc/easgate is not 0750 in the package"
grep -Eq '^-rw-r----- root/root .* \./etc/easgate/easgate\.yaml$' "$work/contents" || fail "easgate.yaml is not 0640 in the package"
pass "binary, unit, /etc/easgate/easgate.yaml (0640 in 0750) and docs"

echo "== control data (dpkg-deb -I)"
[ "$(dpkg-deb -f "$deb" Package)" = easgate ] || fail "Package is not easgate"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version $(dpkg-deb -f "$deb" Version) is not the project's $version"
depends=$(dpkg-deb -f "$deb" Depends)
depends_names=$(tr ',' '\n' <<<"$depends" | sed 's/^ *//; s/ .*//')
# Computed by dpkg-shlibdeps from the binary; Boost is header-only here (Asio, Beast, System).
for package in libkrb5-3 libgssapi-krb5-2 'libldap-2\.5-0' libssl3 'libyaml-cpp.*' 'libspdlog.*' libc6 \
  adduser libsasl2-modules-gssapi-mit; do
  grep -qx "$package" <<<"$depends_names" || fail "Depends lacks $package: $depends"
done
conffiles=$(dpkg-deb -I "$deb" conffiles)
[ "$conffiles" = "/etc/easgate/easgate.yaml
/etc/logrotate.d/easgate" ] || fail "conffiles is not exactly /etc/easgate/easgate.yaml and /etc/logrotate.d/easgate: $conffiles"
pass "version $version, Depends: $depends; conffiles /etc/easgate/easgate.yaml, /etc/logrotate.d/easgate"

echo "== the extracted binary"
root=$work/root
dpkg -x "$deb" "$root"
out=$("$root/usr/sbin/easgate" --version) || fail "easgate --version failed"
[ "$out" = "easgate $version" ] || fail "easgate --version printed '$out', not 'easgate $version'"
pass "$out"

echo "== systemd-analyze verify and security"
unit=$root/lib/systemd/system/easgate.service
grep -q '^ExecStart=/usr/sbin/easgate run --config /etc/easgate/easgate.yaml$' "$unit" || fail "the unit does not start /usr/sbin/easgate"
# verify checks that each Exec binary exists on this machine: a copy of the unit starts the
# extracted one instead, and is verified against this machine's systemd units.
mkdir "$work/unit"
sed "s#/usr/sbin/easgate#$root/usr/sbin/easgate#g" "$unit" >"$work/unit/easgate.service"
verify=$(cd "$work" && systemd-analyze verify --man=no "$work/unit/easgate.service" 2>&1) ||
  fail "systemd-analyze verify failed: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify complained: $verify"
pass "systemd-analyze verify: no complaint"
security=$(systemd-analyze security --offline=true "$work/unit/easgate.service" 2>&1) ||
  fail "systemd-analyze security failed: $security"
exposure=$(sed -n 's/.*Overall exposure level for easgate.service: \([0-9.]*\).*/\1/p' <<<"$security")
[ -n "$exposure" ] || fail "no exposure level in: $security"
awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }' ||
  fail "exposure $exposure is above $max_exposure: $(grep '✗' <<<"$security")"
pass "systemd-analyze security: exposure $exposure (at most $max_exposure)"

echo "== maintainer scripts"
dpkg-deb -e "$deb" "$work/control"
for script in postinst prerm postrm; do
  [ -x "$work/control/$script" ] || fail "$script is missing or not executable"
  sh -n "$work/control/$script" || fail "$script: sh -n found a syntax error"
  shellcheck -s sh "$work/control/$script" || fail "$script: shellcheck (above)"
done
pass "postinst, prerm, postrm: sh -n and shellcheck"

echo "== install, reinstall, remove and purge with dpkg in an overlay of /"
if [ "$(id -u)" != 0 ] || ! unshare --mount true 2>/dev/null; then
  echo "SKIP: installing needs root and mount namespaces; every other check passed"
  exit 77
fi
host_before=$(getent passwd easgate || true; ls -ld /etc/easgate 2>/dev/null || true)
cp "$deb" "$work/easgate.deb"
cp "$(dirname "$0")/in_scratch_root.sh" "$work/in_scratch_root.sh"
# Private mounts: the overlay, and everything mounted under it, vanish with this process.
# shellcheck disable=SC2016  # expanded by the inner bash, from its arguments
unshare --mount --propagation private bash -euo pipefail -c '
  work=$1
  mkdir "$work/scratch"
  mount -t tmpfs scratch "$work/scratch"  # the writable layer: nothing reaches the disk
  mkdir "$work/scratch/upper" "$work/scratch/work" "$work/scratch/merged"
  merged=$work/scratch/merged
  mount -t overlay overlay -o "lowerdir=/,upperdir=$work/scratch/upper,workdir=$work/scratch/work" "$merged"
  mount --rbind /dev "$merged/dev"
  mount -t proc proc "$merged/proc"
  mount -t tmpfs run "$merged/run"  # a fresh /run: no running systemd, as in a chroot
  mount -t tmpfs tmp "$merged/tmp"
  cp "$work/easgate.deb" "$work/in_scratch_root.sh" "$merged/tmp/"
  chroot "$merged" bash /tmp/in_scratch_root.sh /tmp/easgate.deb
' unshare-scratch "$work" || fail "installing the package in the scratch root (above)"
host_after=$(getent passwd easgate || true; ls -ld /etc/easgate 2>/dev/null || true)
[ "$host_before" = "$host_after" ] || fail "the host's easgate user or /etc/easgate changed: $host_after"
pass "dpkg -i, again, postinst again, -r and --purge behave; the host is unchanged"
