# shellcheck shell=bash
# Common settings and helpers for the easgate loopback lab.  Sourced by
# start.sh, stop.sh, provision.sh, smoke.sh.  Not meant to be executed.
#
# State folder: first argument of the calling script, else $LAB_DIR, else
# /tmp/easgate-lab.

LAB_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

lab_init_dir() {
    LAB_DIR="${1:-${LAB_DIR:-/tmp/easgate-lab}}"
    case "$LAB_DIR" in /*) ;; *) LAB_DIR="$(pwd)/$LAB_DIR" ;; esac
    LAB_DIR="${LAB_DIR%/}"
    export LAB_DIR
    LAB_PID_DIR="$LAB_DIR/pids"
    LAB_LOG_DIR="$LAB_DIR/logs"
    LAB_SAMBA_DIR="$LAB_DIR/samba"          # samba-tool --targetdir
    LAB_SMB_CONF="$LAB_SAMBA_DIR/etc/smb.conf"
    LAB_DC2_DIR="$LAB_DIR/samba-dc2"        # the second DC, joined to dc1's domain by start.sh
    LAB_DC2_SMB_CONF="$LAB_DC2_DIR/etc/smb.conf"
    LAB_KRB5_CONF="$LAB_DIR/krb5.conf"
    LAB_KEYTAB_DIR="$LAB_DIR/keytabs"
    LAB_PKI_DIR="$LAB_DIR/pki"
    LAB_HTTPD_DIR="$LAB_DIR/httpd"
    LAB_ENV_FILE="$LAB_DIR/lab.env"
    LAB_PROVISIONED_MARK="$LAB_DIR/.provisioned"
}

# Fingerprint of what defines the provisioned domain: start.sh provisions again
# when it differs from the one recorded in $LAB_PROVISIONED_MARK.
provision_fingerprint() {
    cat "$LAB_SRC_DIR/provision.sh" "$LAB_SRC_DIR/samba-tool-batch.py" "$LAB_SRC_DIR/lib.sh" | sha256sum | cut -c1-16
}

# ---- fixed lab facts -------------------------------------------------------
LAB_REALM="EXAMPLE.TEST"
LAB_DNS_DOMAIN="example.test"
LAB_NETBIOS_DOMAIN="EXAMPLE"
LAB_DC_HOST="dc1.example.test"
LAB_DC_IP="127.0.0.10"
LAB_DC2_HOST="dc2.example.test"  # a second DC of the domain (replicating with dc1), as every estate has
LAB_DC2_IP="127.0.0.14"
LAB_MAIL_HOST="mail.example.test"
LAB_MAIL_IP="127.0.0.11"
LAB_GW_HOST="gateway.example.test"
LAB_GW_IP="127.0.0.12"
LAB_PKI_HOST="pki.example.test" # the CAs' CRL distribution point (Apache, http on port 80)
LAB_PKI_IP="127.0.0.13"
LAB_CRL_BASE_URL="http://$LAB_PKI_HOST/CertEnroll"
LAB_MAIL_PORT="8443"           # Negotiate on every request
LAB_MAIL_PORT_CB="8444"        # GssapiConnectionBound On (IIS authPersistNonNTLM-like)
LAB_MAIL_PORT_EP="8445"        # Extended Protection: tokens must carry channel bindings
LAB_MAIL_PORT_STALE="8446"     # a server with the SPN's old key (a credential not deployed to it)
LAB_MAIL_SPN="HTTP/mail.example.test"

# Lab-only passwords (the domain exists only on loopback, in LAB_DIR).
LAB_ADMIN_PASSWORD="Adm1n-Lab-Passw0rd"
LAB_USER_PASSWORD="Us3r-Lab-Passw0rd"
LAB_SVC_PASSWORD="Svc-Lab-Passw0rd-0123456789"

# user01..userNN: the many-users tests (the isolation stress drives all of them). maxine is in
# LAB_MAXINE_GROUPS groups: her PAC makes an Authorization header of about 18 KiB (over IIS's default
# MaxFieldLength of 16 KiB), like a user in many AD groups.
LAB_NUMBERED_USERS=50
# erin is locked out, frank expired, grace in Protected Users (through the group vip), ivan not in
# eas-users: the account checks (directory_client_test.cpp). judy has Exchange's per-user device
# lists (policy.use_exchange_device_lists).
LAB_USERS=(alice bob carol dave maxine erin frank grace ivan judy $(printf 'user%02d ' $(seq 1 "$LAB_NUMBERED_USERS")))
LAB_MAXINE_GROUPS=1500

# ---- helpers ---------------------------------------------------------------
_lab_tag="${LAB_LOG_TAG:-lab}"
log()  { printf '[%s] %s\n' "$_lab_tag" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$_lab_tag" "$*" >&2; exit 1; }

now_ms() { date +%s%3N; }
elapsed() { # start_ms -> "1.234s"
    local d=$(( $(now_ms) - $1 ))
    printf '%d.%03ds' $((d / 1000)) $((d % 1000))
}

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root (samba DC, /etc/hosts)"; }

need_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || die "missing tool '$t' - run tests/lab/install-packages.sh first"
    done
}

# Add "IP NAME" to /etc/hosts unless NAME already maps to IP.  A stale line
# mapping NAME to another address is replaced.  Idempotent.
ensure_host() {
    local ip="$1" name="$2" hosts=/etc/hosts
    if awk -v ip="$ip" -v n="$name" '$1==ip { for (i=2;i<=NF;i++) if ($i==n) f=1 } END { exit !f }' "$hosts"; then
        return 0
    fi
    if awk -v n="$name" '$1 !~ /^#/ { for (i=2;i<=NF;i++) if ($i==n) f=1 } END { exit !f }' "$hosts"; then
        log "/etc/hosts: $name maps elsewhere; replacing with $ip"
        # /etc/hosts may be a bind mount: rewrite in place, don't rename.
        local tmp; tmp="$(mktemp)"
        awk -v n="$name" '{ keep=1; if ($1 !~ /^#/) for (i=2;i<=NF;i++) if ($i==n) keep=0; if (keep) print }' "$hosts" >"$tmp"
        cat "$tmp" >"$hosts"; rm -f "$tmp"
    fi
    printf '%s %s  # easgate-lab\n' "$ip" "$name" >>"$hosts"
    log "/etc/hosts: added $ip $name"
}

ensure_hosts() {
    ensure_host "$LAB_DC_IP" "$LAB_DC_HOST"
    ensure_host "$LAB_DC2_IP" "$LAB_DC2_HOST"
    ensure_host "$LAB_MAIL_IP" "$LAB_MAIL_HOST"
    ensure_host "$LAB_GW_IP" "$LAB_GW_HOST"
    ensure_host "$LAB_PKI_IP" "$LAB_PKI_HOST"
}

# DCs find their replication partners by "<DSA objectGUID>._msdcs.<domain>" (a CNAME in AD's DNS).
# The lab has no DNS: /etc/hosts carries these names, and those of a domain provisioned before go.
# usage: ensure_dsa_hosts IP GUID [IP GUID]...
ensure_dsa_hosts() {
    local hosts=/etc/hosts want="" tmp
    while [ $# -ge 2 ]; do
        want+="$1 $2._msdcs.$LAB_DNS_DOMAIN  # easgate-lab"$'\n'
        shift 2
    done
    [ "$(grep -F "._msdcs.$LAB_DNS_DOMAIN  # easgate-lab" "$hosts")"$'\n' = "$want" ] && return 0
    tmp="$(mktemp)"
    grep -vF "._msdcs.$LAB_DNS_DOMAIN  # easgate-lab" "$hosts" >"$tmp" || true
    printf '%s' "$want" >>"$tmp"
    cat "$tmp" >"$hosts"; rm -f "$tmp"  # in place: /etc/hosts may be a bind mount
    log "/etc/hosts: the DCs' replication names are now: $(printf '%s' "$want" | awk '{printf "%s ", $2}')"
}

# The smb.conf options each lab DC is made with (provision for dc1, join for dc2): only its own
# address, only the services the lab needs, GSSAPI binds inside LDAPS (as AD allows), its log in
# LAB_LOG_DIR with the KDC's audit lines, never rotated (tests read it from a byte offset).
lab_dc_options() { # ip log-file -> LAB_DC_OPTIONS
    LAB_DC_OPTIONS=(--option="interfaces = $1/8" --option="bind interfaces only = yes"
        --option="server services = -s3fs -nbt -wrepl -dns -dnsupdate -ntp_signd -winbindd"
        --option="ldap server require strong auth = allow_sasl_over_tls"
        --option="log file = $2" --option="max log size = 0"
        --option="log level = 1 kerberos:3 auth_audit:3")
}

# Replicate a partition (the domain's unless named; CN=Configuration,… for the CRLs published
# there) dc2 → dc1 and dc1 → dc2 now, rather than at the next change notification (a few seconds
# after a change). Needs both DCs running.
replicate_dcs() {
    local pair partition="${1:-DC=${LAB_DNS_DOMAIN//./,DC=}}"
    replicate() { # destination source
        samba-tool drs replicate -s "$LAB_SMB_CONF" "$1" "$2" "$partition" \
            -U "$LAB_NETBIOS_DOMAIN\\Administrator%$LAB_ADMIN_PASSWORD" >>"$LAB_LOG_DIR/replication.log" 2>&1
    }
    for pair in "$LAB_DC_HOST $LAB_DC2_HOST" "$LAB_DC2_HOST $LAB_DC_HOST"; do
        # A partner that was just restarted fails the first try (WERR_NETNAME_DELETED: the DRS
        # connection to its old process).
        # shellcheck disable=SC2086 # destination and source
        replicate $pair || { sleep 1; replicate $pair; } || { sleep 2; replicate $pair; } \
            || die "replicating $partition to ${pair%% *} failed (log: $LAB_LOG_DIR/replication.log)"
    done
}

# The objectGUID of a DC's own NTDS Settings object (its DSA), read offline from its sam.ldb.
dsa_guid() { # sam.ldb
    local dn
    dn="$(ldbsearch -H "$1" -s base -b "" dsServiceName 2>/dev/null |
        awk '/^ / {line = line substr($0, 2); next} {if (line != "") print line; line = $0} END {print line}' |
        sed -n 's/^dsServiceName: //p')"
    [ -n "$dn" ] && ldbsearch -H "$1" -s base -b "$dn" objectGUID 2>/dev/null | sed -n 's/^objectGUID: //p'
}

# PID bookkeeping: every process the lab starts is recorded in $LAB_PID_DIR/NAME.pid
pid_file() { printf '%s/%s.pid' "$LAB_PID_DIR" "$1"; }

pid_alive() { # NAME -> 0 if the recorded PID is running
    local f; f="$(pid_file "$1")"
    [ -s "$f" ] || return 1
    kill -0 "$(cat "$f")" 2>/dev/null
}

# Start a background process in its own session (so its process group id ==
# its PID) and record the PID.  Output goes to $LAB_LOG_DIR/NAME.out.
# usage: spawn NAME cmd args...
spawn() {
    local name="$1"; shift
    mkdir -p "$LAB_PID_DIR" "$LAB_LOG_DIR"
    setsid "$@" </dev/null >>"$LAB_LOG_DIR/$name.out" 2>&1 &
    local pid=$!
    echo "$pid" >"$(pid_file "$name")"
    log "started $name pid $pid"
}

# Stop a recorded process by PID: SIGTERM, wait, then SIGKILL its process
# group (the group id is the recorded PID, see spawn), remove the pid file.
stop_pid() {
    local name="$1" f pid i
    f="$(pid_file "$name")"
    [ -s "$f" ] || return 0
    pid="$(cat "$f")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        kill -CONT -- "-$pid" 2>/dev/null || true  # a DC frozen by dc.sh (a test that failed half-way)
        for i in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name pid $pid ignored SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    # Leftover children in the process group led by $pid (samba/apache workers).
    if kill -0 -- "-$pid" 2>/dev/null; then
        for i in $(seq 1 30); do
            kill -0 -- "-$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 -- "-$pid" 2>/dev/null; then
            log "$name: killing leftover processes of group $pid"
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$f"
    log "stopped $name (pid $pid)"
}

# wait_until TIMEOUT_S PIDNAME cmd args... : poll every 0.1 s until cmd
# succeeds; give up at the timeout, or at once when the recorded process
# PIDNAME (see spawn) has exited.
wait_until() {
    local timeout="$1" name="$2"; shift 2
    local deadline=$(( $(now_ms) + timeout * 1000 ))
    until "$@" >/dev/null 2>&1; do
        if [ "$(now_ms)" -ge "$deadline" ]; then
            log "gave up waiting for $name after ${timeout}s"
            return 1
        fi
        if ! pid_alive "$name"; then
            log "$name exited during start-up"
            return 1
        fi
        sleep 0.1
    done
}

# The lab's krb5.conf: KDC by address, no DNS lookups of any kind.
write_krb5_conf() {
    mkdir -p "$LAB_DIR/ccache"
    cat >"$LAB_KRB5_CONF" <<KRB5
# easgate loopback lab - generated by tests/lab (do not edit)
[libdefaults]
    default_realm = $LAB_REALM
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    forwardable = true
    udp_preference_limit = 1
    default_ccache_name = FILE:$LAB_DIR/ccache/krb5cc_default
    default_keytab_name = FILE:$LAB_DIR/keytabs/default.keytab

[realms]
    $LAB_REALM = {
        kdc = $LAB_DC_IP:88
        kdc = $LAB_DC2_IP:88
        admin_server = $LAB_DC_IP
        default_domain = $LAB_DNS_DOMAIN
    }

[domain_realm]
    .$LAB_DNS_DOMAIN = $LAB_REALM
    $LAB_DNS_DOMAIN = $LAB_REALM
KRB5
    chmod 644 "$LAB_KRB5_CONF"
}

# Truncate a log that grew past 64 MiB (a reused LAB_DIR keeps its logs).
cap_log() {
    local f
    for f in "$@"; do
        if [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt $((64 * 1024 * 1024)) ]; then
            : >"$f"
            log "truncated $f (over 64 MiB)"
        fi
    done
}
