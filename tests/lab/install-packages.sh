#!/usr/bin/env bash
# Install the Debian packages the easgate loopback lab needs (Samba AD DC, MIT
# Kerberos client tools, OpenLDAP client tools, Apache + mod_auth_gssapi,
# python3 for the CGI handler, openssl, curl).
#
# Idempotent: packages already installed are skipped.  System daemons that the
# packages would start (smbd, nmbd, samba-ad-dc, winbind, apache2) are never
# started: a temporary /usr/sbin/policy-rc.d denies it during the install, and
# afterwards the units are stopped and disabled.  The lab only ever runs its own
# private instances (see start.sh).
set -euo pipefail

log() { printf '[lab-install] %s\n' "$*" >&2; }
die() { printf '[lab-install] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get install)"

PKGS=(samba samba-ad-dc samba-ad-provision samba-dsdb-modules ldb-tools krb5-user ldap-utils libsasl2-modules-gssapi-mit apache2 libapache2-mod-auth-gssapi
      python3 python3-gssapi openssl curl ca-certificates faketime)
SERVICES=(samba-ad-dc smbd nmbd winbind apache2 apache-htcacheclean)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    log "all packages already installed"
else
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # krb5-config asks for a default realm; preseed it so nothing prompts and
    # nothing points at a real network.  The lab never uses /etc/krb5.conf.
    if command -v debconf-set-selections >/dev/null; then
        printf '%s\n' \
            "krb5-config krb5-config/default_realm string EXAMPLE.TEST" \
            "krb5-config krb5-config/add_servers_realm string EXAMPLE.TEST" \
            "krb5-config krb5-config/add_servers boolean false" \
            "krb5-config krb5-config/read_conf boolean true" \
            | debconf-set-selections
    fi
    # Deny service starts during the install (invoke-rc.d honours exit 101).
    policy=/usr/sbin/policy-rc.d
    policy_backup=""
    if [ -e "$policy" ]; then
        policy_backup="$(mktemp)"
        cp -p "$policy" "$policy_backup"
    fi
    restore_policy() {
        if [ -n "$policy_backup" ]; then
            mv -f "$policy_backup" "$policy"
        else
            rm -f "$policy"
        fi
    }
    trap restore_policy EXIT
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"

    need_update=1
    # apt lists present and not older than a day -> skip update
    if [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
        need_update=0
    fi
    if [ "$need_update" -eq 1 ]; then
        log "apt-get update"
        apt-get update -qq >/dev/null || die "apt-get update failed"
    fi
    apt_install() {
        apt-get install -y -qq --no-install-recommends \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
            "${missing[@]}" >/tmp/easgate-lab-apt.log 2>&1
    }
    if ! apt_install; then
        if [ "$need_update" -eq 0 ]; then
            # Lists looked fresh but may still be stale: update once and retry.
            log "apt-get install failed; apt-get update and retry"
            apt-get update -qq >/dev/null || die "apt-get update failed"
        fi
        if [ "$need_update" -eq 1 ] || ! apt_install; then
            tail -n 30 /tmp/easgate-lab-apt.log >&2
            die "apt-get install failed (full log: /tmp/easgate-lab-apt.log)"
        fi
    fi
    restore_policy
    trap - EXIT
    log "installed"
fi

# Whatever happened before (e.g. packages installed by hand without the policy
# file): make sure the system instances are not running and not enabled.  The
# lab must never use or depend on them.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    for s in "${SERVICES[@]}"; do
        systemctl stop "$s" >/dev/null 2>&1 || true
        systemctl disable "$s" >/dev/null 2>&1 || true
        systemctl mask "$s" >/dev/null 2>&1 || true
    done
else
    # No systemd (containers): stop via init scripts if they report running.
    for s in "${SERVICES[@]}"; do
        if [ -x "/etc/init.d/$s" ]; then
            "/etc/init.d/$s" stop >/dev/null 2>&1 || true
        fi
        if command -v update-rc.d >/dev/null; then
            update-rc.d "$s" disable >/dev/null 2>&1 || true
        fi
    done
fi

# Sanity: the tools the lab scripts call.
for t in samba samba-tool ldbmodify kinit kvno klist kdestroy ldapsearch apache2 openssl curl /usr/bin/python3; do
    command -v "$t" >/dev/null || die "missing tool after install: $t"
done
[ -e /usr/lib/apache2/modules/mod_auth_gssapi.so ] || die "mod_auth_gssapi.so missing"
log "ok: samba $(samba -V 2>/dev/null | awk '{print $2}'), apache $(apache2 -v 2>/dev/null | sed -n 's/^Server version: //p')"
