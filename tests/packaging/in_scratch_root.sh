#!/usr/bin/env bash
# Run by package_test.sh inside a throwaway overlay of / (never on a real system): installs the
# .deb with dpkg, runs its postinst again, reinstalls it, removes and purges it, and checks what
# each step leaves.
#   in_scratch_root.sh PACKAGE.deb
set -euo pipefail
deb=$1
fail() { echo "FAIL (scratch root): $*" >&2; exit 1; }
pass() { echo "ok (scratch root): $*"; }
wants=/etc/systemd/system/multi-user.target.wants/easgate.service

if getent passwd easgate >/dev/null || [ -e /etc/easgate ]; then
  fail "an easgate user or /etc/easgate already exists: the first install would prove nothing"
fi

# The state postinst must leave, the same after every run.
check_installed() {
  local account
  account=$(getent passwd easgate) || fail "$1: no user easgate"
  IFS=: read -r _ _ uid gid _ home shell <<<"$account"
  [ "$uid" -lt 1000 ] || fail "$1: easgate is not a system user (uid $uid)"
  [ "$(getent group easgate | cut -d: -f3)" = "$gid" ] || fail "$1: easgate's primary group is not the group easgate"
  { [ "$home" = /nonexistent ] && [ ! -e /nonexistent ]; } || fail "$1: home is $home (must be /nonexistent, not created)"
  [ "$shell" = /usr/sbin/nologin ] || fail "$1: login shell is $shell"
  [ "$(stat -c '%U:%G %a' /etc/easgate)" = "root:easgate 750" ] || fail "$1: /etc/easgate is $(stat -c '%U:%G %a' /etc/easgate)"
  [ "$(stat -c '%U:%G %a' /etc/easgate/easgate.yaml)" = "root:easgate 640" ] ||
    fail "$1: easgate.yaml is $(stat -c '%U:%G %a' /etc/easgate/easgate.yaml)"
  [ "$(stat -c '%U:%G %a' /var/lib/easgate)" = "easgate:easgate 700" ] ||
    fail "$1: /var/lib/easgate is $(stat -c '%U:%G %a' /var/lib/easgate)"
  [ "$(stat -c '%U:%G %a' /var/log/easgate)" = "easgate:easgate 750" ] ||
    fail "$1: /var/log/easgate is $(stat -c '%U:%G %a' /var/log/easgate)"
  [ "$(readlink "$wants")" = /lib/systemd/system/easgate.service ] || fail "$1: the unit is not enabled ($wants)"
  echo "$account"
}

dpkg -i "$deb" >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg -i"; }
first=$(check_installed "first install")
pass "dpkg -i: $first, /etc/easgate root:easgate 0750, easgate.yaml 0640, /var/lib/easgate 0700, /var/log/easgate 0750, unit enabled"
# Nothing started it: no systemd runs here, and postinst never starts easgate on a first install.

# `easgate doctor` as an admin runs it (root) on the installed package: crl_refresh.cache_dir is
# judged for the service account easgate and the installed unit's sandbox, and never made by the
# doctor. Prints the finding whose check ends with $2 (default "CRL cache") for cache_dir $1:
# "VERDICT found".
doctor_dir=/tmp/doctor
mkdir -p $doctor_dir
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
  -addext basicConstraints=critical,CA:TRUE -keyout $doctor_dir/key.pem -out $doctor_dir/cert.pem 2>/dev/null
cache_finding() {
  cat >"$doctor_dir/easgate.yaml" <<YAML
listeners:
  - address: 127.0.0.1
    port: 0
    certificate: $doctor_dir/cert.pem
    private_key: $doctor_dir/key.pem
    client_auth:
      trusted_ca_file: $doctor_dir/cert.pem
      crl_refresh: {cache_dir: $1}
upstreams:
  - name: exchange
    servers: [https://localhost:1]
YAML
  { easgate doctor --config "$doctor_dir/easgate.yaml" --json 2>/dev/null || true; } |  # 1 with a FAIL
    python3 -c 'import json, sys
for c in json.load(sys.stdin)["checks"]:
    if c["check"].endswith(sys.argv[1]): print(c["verdict"], c["found"])' "${2:-CRL cache}"
}
# Under /tmp the files are out of the service's sight: the unit's PrivateTmp=yes gives it a /tmp
# of its own.
tls=$(cache_finding /var/lib/easgate/crls "TLS settings")
[[ $tls == "FAIL /tmp/doctor/cert.pem can't be read by the service easgate: /tmp/doctor/cert.pem is under /tmp, which /lib/systemd/system/easgate.service replaces with an empty one"* ]] ||
  fail "doctor on files in /tmp: $tls"
mkdir -p /srv/doctor && mv /tmp/doctor/* /srv/doctor/ && rmdir /tmp/doctor && doctor_dir=/srv/doctor
# The key as openssl wrote it (root:root 0600): root reads it, the service could not.
tls=$(cache_finding /var/lib/easgate/crls "TLS settings")
[[ $tls == "FAIL /srv/doctor/key.pem can't be read by the service easgate: /srv/doctor/key.pem is root:root 0600"* ]] ||
  fail "doctor on a key only root reads: $tls"
chown root:easgate $doctor_dir/key.pem && chmod 0640 $doctor_dir/key.pem
tls=$(cache_finding /var/lib/easgate/crls "TLS settings")
[[ $tls == "PASS certificate, private key"* ]] || fail "doctor on a key root:easgate 0640: $tls"
# A key another group reads, which a drop-in's SupplementaryGroups= gives the service.
groupadd -f tls-keys && chown root:tls-keys $doctor_dir/key.pem
tls=$(cache_finding /var/lib/easgate/crls "TLS settings")
[[ $tls == "FAIL /srv/doctor/key.pem can't be read by the service easgate: /srv/doctor/key.pem is root:tls-keys 0640"* ]] ||
  fail "doctor on a key of a group easgate is not in: $tls"
mkdir -p /etc/systemd/system/easgate.service.d
printf '[Service]\nSupplementaryGroups=tls-keys\n' >/etc/systemd/system/easgate.service.d/keys.conf
tls=$(cache_finding /var/lib/easgate/crls "TLS settings")
[[ $tls == "PASS certificate, private key"* ]] || fail "doctor on a key of the unit's SupplementaryGroups=: $tls"
rm /etc/systemd/system/easgate.service.d/keys.conf && chown root:easgate $doctor_dir/key.pem
finding=$(cache_finding /var/lib/easgate/crls)
[[ $finding == "PASS /var/lib/easgate/crls does not exist yet: the service account easgate makes it"* ]] ||
  fail "doctor on /var/lib/easgate/crls: $finding"
[ ! -e /var/lib/easgate/crls ] || fail "doctor made the cache directory"
finding=$(cache_finding /var/cache/easgate/crls)
[[ $finding == "WARN /var/cache/easgate/crls is outside what /lib/systemd/system/easgate.service lets easgate write"* ]] ||
  fail "doctor on /var/cache/easgate/crls: $finding"
mkdir -p /etc/systemd/system/easgate.service.d /srv/crls
printf '[Service]\nReadWritePaths=/srv/crls\n' >/etc/systemd/system/easgate.service.d/crls.conf
finding=$(cache_finding /srv/crls)
[[ $finding == "WARN the service account easgate can't keep CRLs in it: /srv/crls is root:root 0755"* ]] ||
  fail "doctor on a root-owned /srv/crls: $finding"
chown easgate: /srv/crls
finding=$(cache_finding /srv/crls)
[[ $finding == "PASS /srv/crls, writable by the service account easgate: no CRL kept yet" ]] ||
  fail "doctor on an easgate-owned /srv/crls: $finding"
rm -r /etc/systemd/system/easgate.service.d /srv/crls /srv/doctor
pass "doctor: the listener's files and cache_dir judged for the user easgate and the unit (PrivateTmp=, a drop-in's SupplementaryGroups= and ReadWritePaths=), cache_dir never made"

# With the environment dpkg gives it (deb-systemd-helper acts only when called from dpkg).
DPKG_MAINTSCRIPT_PACKAGE=easgate DPKG_MAINTSCRIPT_NAME=postinst \
  /var/lib/dpkg/info/easgate.postinst configure "$(dpkg-query -W -f='${Version}' easgate)" ||
  fail "postinst configure, run a second time"
[ "$(check_installed "postinst again")" = "$first" ] || fail "postinst run again changed the user"
pass "postinst run again: same user, same permissions"

echo "# an admin's edit" >>/etc/easgate/easgate.yaml
dpkg -i "$deb" >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg -i over the installed package"; }
[ "$(check_installed "reinstall")" = "$first" ] || fail "reinstalling changed the user"
tail -n 1 /etc/easgate/easgate.yaml | grep -qx "# an admin's edit" || fail "reinstalling lost the admin's edit to the conffile"
pass "dpkg -i again (upgrade path): same user, permissions kept, the admin's edit kept"

echo "secret" >/etc/easgate/easgate.keytab
dpkg -r easgate >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg -r"; }
{ [ ! -e /usr/sbin/easgate ] && [ ! -e /lib/systemd/system/easgate.service ]; } || fail "dpkg -r left the binary or the unit"
[ -e /etc/easgate/easgate.yaml ] || fail "dpkg -r removed the conffile"
getent passwd easgate >/dev/null || fail "dpkg -r removed the user"
pass "dpkg -r: binary and unit gone, configuration and user kept"

dpkg --purge easgate >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg --purge"; }
[ ! -e /etc/easgate/easgate.yaml ] || fail "dpkg --purge left easgate.yaml"
[ -e /etc/easgate/easgate.keytab ] || fail "dpkg --purge removed the admin's keytab"
[ ! -e "$wants" ] || fail "dpkg --purge left the unit enabled"
getent passwd easgate >/dev/null || fail "dpkg --purge removed the user (Debian leaves it)"
{ [ ! -e /var/lib/easgate ] && [ ! -e /var/log/easgate ]; } || fail "dpkg --purge left /var/lib/easgate or /var/log/easgate"
rm /etc/easgate/easgate.keytab
pass "dpkg --purge: easgate.yaml, the enablement, /var/lib/easgate and /var/log/easgate gone, the admin's keytab and the user kept"
