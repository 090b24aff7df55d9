#!/usr/bin/env bash
# Provision the lab's Samba AD domain EXAMPLE.TEST from scratch into
# $LAB_DIR/samba, seed it with samba-tool the way an AD admin would, and export
# the keytabs.  Offline: works on the database files, no DC needs to run.
#
# usage: provision.sh [LAB_DIR]     (default $LAB_DIR, else /tmp/easgate-lab)
# Normally called by start.sh when $LAB_DIR holds no domain yet.  Re-running it
# wipes $LAB_DIR/samba and $LAB_DIR/keytabs and provisions again (the DC must
# be stopped: stop.sh).
set -euo pipefail
LAB_LOG_TAG="lab-provision"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lab_init_dir "${1:-}"
need_root
need_tools samba-tool ldbsearch ldbmodify ldbadd klist /usr/bin/python3

if pid_alive samba || pid_alive samba-dc2; then
    die "a lab DC is running; run stop.sh first"
fi

t0=$(now_ms)
rm -f "$LAB_PROVISIONED_MARK"
rm -rf "$LAB_SAMBA_DIR" "$LAB_DC2_DIR" "$LAB_KEYTAB_DIR"  # dc2 joins the new domain when started
mkdir -p "$LAB_SAMBA_DIR" "$LAB_KEYTAB_DIR" "$LAB_LOG_DIR"
chmod 755 "$LAB_DIR"
write_krb5_conf
export KRB5_CONFIG="$LAB_KRB5_CONF"

# An empty smb.conf for provisioning so /etc/samba/smb.conf never leaks in;
# provision writes the real one to $LAB_SAMBA_DIR/etc/smb.conf.
empty_conf="$LAB_DIR/empty-smb.conf"
: >"$empty_conf"

lab_dc_options "$LAB_DC_IP" "$LAB_LOG_DIR/samba.log"
log "provisioning realm $LAB_REALM (domain $LAB_NETBIOS_DOMAIN, DC $LAB_DC_HOST/$LAB_DC_IP) into $LAB_SAMBA_DIR"
if ! samba-tool domain provision \
        -s "$empty_conf" \
        --targetdir="$LAB_SAMBA_DIR" \
        --realm="$LAB_REALM" --domain="$LAB_NETBIOS_DOMAIN" \
        --server-role=dc --dns-backend=NONE --use-rfc2307 \
        --host-name="${LAB_DC_HOST%%.*}" --host-ip="$LAB_DC_IP" \
        --adminpass="$LAB_ADMIN_PASSWORD" "${LAB_DC_OPTIONS[@]}" \
        >"$LAB_LOG_DIR/provision.log" 2>&1; then
    tail -n 25 "$LAB_LOG_DIR/provision.log" >&2
    die "samba-tool domain provision failed (log: $LAB_LOG_DIR/provision.log)"
fi
rm -f "$empty_conf"
log "provisioned in $(elapsed "$t0")"

# All further samba-tool calls work on the local database of this DC only.
# They run through samba-tool-batch.py (one Python process for the whole list:
# ~0.15 s per command instead of ~0.6 s); each line is a plain samba-tool
# command line, as an admin would type it.
H="$LAB_SAMBA_DIR/private/sam.ldb"
O="-s '$LAB_SMB_CONF' -H '$H'"

run_batch() { # stdin: samba-tool command lines
    if ! /usr/bin/python3 "$LAB_SRC_DIR/samba-tool-batch.py" >>"$LAB_LOG_DIR/provision.log" 2>&1; then
        tail -n 15 "$LAB_LOG_DIR/provision.log" >&2
        die "samba-tool batch failed (log: $LAB_LOG_DIR/provision.log)"
    fi
}

q() { printf "'%s'" "$1"; }  # single-quote for the batch lines (no quotes in lab values)

{
    # Lab password policy: no complexity/expiry/lockout surprises.
    # A lockout lasts 99999 minutes (the most samba-tool takes), so that erin, locked at
    # provisioning, stays locked for as long as the lab is kept.
    echo "domain passwordsettings set $O --complexity=off --history-length=0 --min-pwd-age=0 --max-pwd-age=0 --min-pwd-length=1 --account-lockout-threshold=0 --account-lockout-duration=99999 --reset-account-lockout-after=99999"

    # ---- users (userPrincipalName <user>@example.test, mail) -------------------
    for u in "${LAB_USERS[@]}"; do
        echo "user create $u $(q "$LAB_USER_PASSWORD") $O --mail-address=$u@$LAB_DNS_DOMAIN --given-name=$u --surname=Lab --use-username-as-cn"
    done
    echo "user disable carol $O"
    echo "user sensitive dave on $O"            # UF_NOT_DELEGATED 0x100000

    # ---- groups (nested: eas-users > sales > alice) -----------------------------
    echo "group add eas-users $O --description='ActiveSync users'"
    echo "group add sales $O --description=Sales"
    echo "group addmembers sales alice $O"
    echo "group addmembers eas-users sales,bob,carol,dave,maxine,$(printf 'user%02d,' $(seq 1 "$LAB_NUMBERED_USERS") | sed 's/,$//') $O"
    # ---- Protected Users, nested: Protected Users > vip > grace --------------------
    echo "group add vip $O --description='Protected through nesting'"
    echo "group addmembers vip grace $O"
    echo "group addmembers 'Protected Users' vip $O"

    # ---- Exchange stand-in: computer account MAIL$ holding HTTP/mail.example.test
    echo "computer create MAIL $O --description='Exchange stand-in (lab)'"
    echo "user setpassword MAIL\$ --newpassword=$(q "$LAB_SVC_PASSWORD") $O"
    echo "user enable MAIL\$ $O"
    echo "spn add $LAB_MAIL_SPN MAIL\$ $O"        # = setspn -s HTTP/mail.example.test MAIL

    # ---- easgate: constrained delegation to HTTP/mail only, with protocol transition
    echo "computer create EASGATE $O --description='easgate (lab)' --service-principal-name=HTTP/$LAB_GW_HOST --service-principal-name=host/$LAB_GW_HOST"
    echo "user setpassword EASGATE\$ --newpassword=$(q "$LAB_SVC_PASSWORD") $O"
    echo "user enable EASGATE\$ $O"
    echo "delegation add-service EASGATE\$ $LAB_MAIL_SPN $O"
    echo "delegation for-any-protocol EASGATE\$ on $O"

    # ---- EASGATE-NODELEG$: same kind of account, no delegation rights at all
    echo "computer create EASGATE-NODELEG $O --description='easgate without delegation rights (lab)' --service-principal-name=HTTP/nodeleg.$LAB_DNS_DOMAIN"
    echo "user setpassword EASGATE-NODELEG\$ --newpassword=$(q "$LAB_SVC_PASSWORD") $O"
    echo "user enable EASGATE-NODELEG\$ $O"

    # ---- EASGATE-NOLIST$: protocol transition on, but no service to delegate to (the SPN left out
    # of its list): its S4U2Self tickets are forwardable, and S4U2Proxy is refused all the same
    echo "computer create EASGATE-NOLIST $O --description='easgate with no SPN in its delegation list (lab)' --service-principal-name=HTTP/nolist.$LAB_DNS_DOMAIN"
    echo "user setpassword EASGATE-NOLIST\$ --newpassword=$(q "$LAB_SVC_PASSWORD") $O"
    echo "user enable EASGATE-NOLIST\$ $O"
    echo "delegation for-any-protocol EASGATE-NOLIST\$ on $O"
} | run_batch

# The DC's own SPNs (ldap/dc1.example.test, ...) are normally added by
# samba_spnupdate from the dnsupdate service, which the lab does not run.
samba_spnupdate -s "$LAB_SMB_CONF" >>"$LAB_LOG_DIR/provision.log" 2>&1 || die "samba_spnupdate failed (log: $LAB_LOG_DIR/provision.log)"

# maxine's many groups, added in one LDIF (samba-tool would take a process per group).
base_dn="$(ldbsearch -H "$H" -s base -b '' defaultNamingContext 2>/dev/null | sed -n 's/^defaultNamingContext: //p')"
[ -n "$base_dn" ] || die "no defaultNamingContext in $H"
for i in $(seq 1 "$LAB_MAXINE_GROUPS"); do
    printf 'dn: CN=bulk-%04d,CN=Users,%s\nobjectClass: group\nsAMAccountName: bulk-%04d\nmember: CN=maxine,CN=Users,%s\n\n' \
        "$i" "$base_dn" "$i" "$base_dn"
done | ldbadd -H "$H" >>"$LAB_LOG_DIR/provision.log" 2>&1 \
    || die "adding maxine's $LAB_MAXINE_GROUPS groups failed (log: $LAB_LOG_DIR/provision.log)"

# erin locked out now (what the DC records after too many wrong passwords), frank expired on
# 2020-01-01 (accountExpires, a FILETIME).
erin_dn="$(ldbsearch -H "$H" "(sAMAccountName=erin)" dn 2>/dev/null | sed -n 's/^dn: //p')"
frank_dn="$(ldbsearch -H "$H" "(sAMAccountName=frank)" dn 2>/dev/null | sed -n 's/^dn: //p')"
[ -n "$erin_dn" ] && [ -n "$frank_dn" ] || die "erin or frank not found after seeding"
printf 'dn: %s\nchangetype: modify\nreplace: lockoutTime\nlockoutTime: %s\n\ndn: %s\nchangetype: modify\nreplace: accountExpires\naccountExpires: 132223104000000000\n\n' \
    "$erin_dn" "$(( ($(date +%s) + 11644473600) * 10000000 ))" "$frank_dn" \
    | ldbmodify -H "$H" >>"$LAB_LOG_DIR/provision.log" 2>&1 \
    || die "locking erin or expiring frank failed (log: $LAB_LOG_DIR/provision.log)"

# Exchange's two per-user ActiveSync device lists, as the Exchange schema extension defines them
# (lDAPDisplayName, multi-valued Unicode strings on user; the OIDs here are RFC 5612's example
# arc), and judy's lists: only her phone JUDYPHONE01 allowed, the tests' EASGATETEST01 blocked.
schema_dn="CN=Schema,CN=Configuration,$base_dn"
{
    for list in Allowed Blocked; do
        oid=$([ "$list" = Allowed ] && echo 1 || echo 2)
        printf 'dn: CN=ms-Exch-Mobile-%s-Device-IDs,%s\nobjectClass: top\nobjectClass: attributeSchema\n' "$list" "$schema_dn"
        printf 'attributeID: 1.3.6.1.4.1.32473.1.%s\nlDAPDisplayName: msExchMobile%sDeviceIDs\n' "$oid" "$list"
        printf 'attributeSyntax: 2.5.5.12\noMSyntax: 64\nisSingleValued: FALSE\nsearchFlags: 0\n\n'
    done
} | ldbadd -H "$H" --option="dsdb:schema update allowed=true" >>"$LAB_LOG_DIR/provision.log" 2>&1 \
    || die "adding the Exchange device-list attributes to the schema failed (log: $LAB_LOG_DIR/provision.log)"
printf 'dn: CN=User,%s\nchangetype: modify\nadd: mayContain\nmayContain: msExchMobileAllowedDeviceIDs\nmayContain: msExchMobileBlockedDeviceIDs\n\n' "$schema_dn" \
    | ldbmodify -H "$H" --option="dsdb:schema update allowed=true" >>"$LAB_LOG_DIR/provision.log" 2>&1 \
    || die "allowing the Exchange device lists on users failed (log: $LAB_LOG_DIR/provision.log)"
judy_dn="$(ldbsearch -H "$H" "(sAMAccountName=judy)" dn 2>/dev/null | sed -n 's/^dn: //p')"
printf 'dn: %s\nchangetype: modify\nreplace: msExchMobileAllowedDeviceIDs\nmsExchMobileAllowedDeviceIDs: JUDYPHONE01\n-\nreplace: msExchMobileBlockedDeviceIDs\nmsExchMobileBlockedDeviceIDs: EASGATETEST01\n\n' "$judy_dn" \
    | ldbmodify -H "$H" >>"$LAB_LOG_DIR/provision.log" 2>&1 \
    || die "setting judy's device lists failed (log: $LAB_LOG_DIR/provision.log)"

# AES enctypes on the service accounts (what Set-ADComputer -KerberosEncryptionType
# does); without msDS-SupportedEncryptionTypes the exported keytabs hold only RC4.
for acct in 'MAIL$' 'EASGATE$' 'EASGATE-NODELEG$' 'EASGATE-NOLIST$'; do
    dn="$(ldbsearch -H "$H" "(sAMAccountName=$acct)" dn 2>/dev/null | sed -n 's/^dn: //p' | head -n1)"
    [ -n "$dn" ] || die "account $acct not found after seeding"
    printf 'dn: %s\nchangetype: modify\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 24\n\n' "$dn"
done | ldbmodify -H "$H" >>"$LAB_LOG_DIR/provision.log" 2>&1 \
    || die "setting msDS-SupportedEncryptionTypes failed (log: $LAB_LOG_DIR/provision.log)"

# ---- keytabs (samba-tool domain exportkeytab --principal=...) -------------------
{
    echo "domain exportkeytab '$LAB_KEYTAB_DIR/mail.keytab' --principal=$LAB_MAIL_SPN -s '$LAB_SMB_CONF'"
    echo "domain exportkeytab '$LAB_KEYTAB_DIR/easgate.keytab' --principal=EASGATE\$ -s '$LAB_SMB_CONF'"
    echo "domain exportkeytab '$LAB_KEYTAB_DIR/easgate-nodeleg.keytab' --principal=EASGATE-NODELEG\$ -s '$LAB_SMB_CONF'"
    echo "domain exportkeytab '$LAB_KEYTAB_DIR/easgate-nolist.keytab' --principal=EASGATE-NOLIST\$ -s '$LAB_SMB_CONF'"
} | run_batch
for kt in mail easgate easgate-nodeleg easgate-nolist; do
    klist -k "$LAB_KEYTAB_DIR/$kt.keytab" >/dev/null 2>&1 || die "keytab $LAB_KEYTAB_DIR/$kt.keytab missing or unreadable"
done
chmod 600 "$LAB_KEYTAB_DIR"/*.keytab
# Apache's workers (www-data) read the acceptor keytab.
if getent group www-data >/dev/null; then
    chgrp www-data "$LAB_KEYTAB_DIR/mail.keytab"
    chmod 640 "$LAB_KEYTAB_DIR/mail.keytab"
fi
chmod 755 "$LAB_KEYTAB_DIR"

printf 'LAB_DIR=%s\nfingerprint=%s\nprovisioned=%s\n' "$LAB_DIR" "$(provision_fingerprint)" "$(date -u +%FT%TZ)" >"$LAB_PROVISIONED_MARK"
log "domain seeded and keytabs exported in $(elapsed "$t0") total"
