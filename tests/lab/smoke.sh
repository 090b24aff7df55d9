#!/usr/bin/env bash
# Smoke test of a running lab (start.sh first), with MIT Kerberos tools, curl
# and ldapsearch only:
#   - EASGATE$ gets a TGT from its keytab, then S4U2Self + S4U2Proxy for alice to
#     HTTP/mail.example.test (kvno -I ... -P); the delegated ticket, used by curl,
#     makes the Exchange stand-in answer as alice@EXAMPLE.TEST
#   - alice with her password: curl --negotiate on both ports (8443, 8444)
#   - expected refusals: dave (not delegable), EASGATE-NODELEG$ (no delegation
#     rights), carol (disabled), an SPN outside EASGATE$'s delegation list; for
#     each, the reason the KDC logged ($LAB_KDC_LOG)
#   - nested group membership of alice via LDAP (SASL GSSAPI)
#   - the two-tier PKI's chains, with the CRLs fetched from their CDPs
#   - dc2: S4U through its KDC alone, and a change made on dc1 read from it over LDAPS
#
# usage: smoke.sh [LAB_DIR]
# Ends with "N passed, N failed"; exit status 0 only if nothing failed.
set -euo pipefail
LAB_LOG_TAG="lab-smoke"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lab_init_dir "${1:-}"
need_tools kinit kvno klist kdestroy curl ldapsearch sha256sum

[ -f "$LAB_ENV_FILE" ] || die "no $LAB_ENV_FILE - run tests/lab/start.sh first"
set -a
# shellcheck disable=SC1090
. "$LAB_ENV_FILE"
set +a
T0=$(now_ms)

passed=0; failed=0
ok()     { passed=$((passed + 1)); printf 'ok   - %s\n' "$*"; }
not_ok() { failed=$((failed + 1)); printf 'FAIL - %s\n' "$*"; }
show()   { sed 's/^/       | /'; }

CC="$LAB_CCACHE_DIR/smoke"
mkdir -p "$CC"
rm -f "$CC"/*
cc_gw="FILE:$CC/easgate"; cc_nodeleg="FILE:$CC/nodeleg"; cc_alice="FILE:$CC/alice"
cc_s4u_alice="FILE:$CC/s4u-alice"; cc_tmp="FILE:$CC/tmp"

kdc_log_mark() { stat -c %s "$LAB_KDC_LOG"; }
kdc_log_since() { tail -c "+$(( $1 + 1 ))" "$LAB_KDC_LOG"; }
# The KDC's one-line audit summary of failed requests since a mark, trimmed.
# (ERR_PREAUTH_REQUIRED is the normal first round of every password kinit.)
kdc_refusals_since() {
    kdc_log_since "$1" \
        | grep -E 'Kerberos: (TGS|AS)-REQ (ERR_|UNKNOWN)|^ *Auth: .*status \[NT_STATUS_' \
        | grep -Ev 'ERR_PREAUTH_REQUIRED|status \[NT_STATUS_OK\]' \
        | sed -E 's/^ *(Kerberos|Auth): //; s/ (elapsed|armor_client_name|e-text|client-pa|pa|pa-etype)=[^ ]*//g; s/ at \[[^]]*\]//; s/ workstation \[\(null\)\]//; s/ local host \[NULL\]//' || true
}
# The JSON field "user" from the stand-in's answer.
json_user() { sed -n 's/.*"user": "\([^"]*\)".*/\1/p'; }
json_field() { sed -n "s/.*\"$1\": \"\\{0,1\\}\\([^\",}]*\\)\"\\{0,1\\}[,}].*/\\1/p"; }

echo "== lab smoke test: $LAB_DIR (realm $LAB_REALM, KDC $LAB_KDC, backend $LAB_MAIL_BASE_URL)"

# ---- 1. easgate's TGT from its keytab ---------------------------------------------------------
if out="$(KRB5CCNAME="$cc_gw" kinit -k -t "$LAB_EASGATE_KEYTAB" "$LAB_EASGATE_PRINCIPAL" 2>&1)"; then
    ok "kinit -k -t $LAB_EASGATE_KEYTAB $LAB_EASGATE_PRINCIPAL"
else
    not_ok "kinit -k as $LAB_EASGATE_PRINCIPAL: $out"
fi

# ---- 2. S4U2Self + S4U2Proxy: alice -> HTTP/mail.example.test ------------------------------------
# -I (not -U): impersonate the canonical name; the enterprise form alice@example.test
# would stay in the ticket as alice\@example.test@EXAMPLE.TEST.
if out="$(KRB5CCNAME="$cc_gw" kvno -I "alice@$LAB_REALM" -P "$LAB_MAIL_SPN" --out-cache "$cc_s4u_alice" 2>&1)"; then
    ok "kvno -I alice@$LAB_REALM -P $LAB_MAIL_SPN (as $LAB_EASGATE_PRINCIPAL): $out"
    klist -c "$cc_s4u_alice" 2>&1 | grep -E 'Default principal|HTTP/' | show
    KRB5CCNAME="$cc_gw" klist 2>&1 | grep -E -A1 "HTTP/mail" | show
else
    not_ok "S4U2Proxy for alice via $LAB_EASGATE_PRINCIPAL: $out"
fi

# ---- 3. the delegated ticket, presented by curl, authenticates alice at the stand-in ------------
body=$(KRB5CCNAME="$cc_s4u_alice" curl -sS --negotiate -u : --cacert "$LAB_CA_FILE" \
        "$LAB_MAIL_URL?Cmd=Ping&User=alice&DeviceId=SMOKE1&DeviceType=SmokeTest" 2>&1) || true
if [ "$(printf '%s' "$body" | json_user)" = "alice@$LAB_REALM" ]; then
    ok "curl with the S4U2Proxy ticket -> stand-in says user=alice@$LAB_REALM"
    printf '%s\n' "$body" | show
else
    not_ok "curl with the S4U2Proxy ticket: $body"
fi

# ---- 4. alice with her password, POST body echoed as length + SHA-256, both ports ----------------
if printf '%s\n' "$LAB_USER_PASSWORD" | KRB5CCNAME="$cc_alice" kinit "alice@$LAB_REALM" >/dev/null 2>&1; then
    ok "kinit alice@$LAB_REALM (password)"
else
    not_ok "kinit alice@$LAB_REALM with the lab password"
fi
payload='smoke test body - easgate lab'
want_sha=$(printf '%s' "$payload" | sha256sum | cut -d' ' -f1)
for url in "$LAB_MAIL_URL" "$LAB_MAIL_CONN_BOUND_URL"; do
    body=$(KRB5CCNAME="$cc_alice" curl -sS --negotiate -u : --cacert "$LAB_CA_FILE" \
            -H 'Content-Type: application/vnd.ms-sync.wbxml' -H 'MS-ASProtocolVersion: 16.1' \
            --data-binary "$payload" "$url?Cmd=Sync&User=alice&DeviceId=SMOKE2&DeviceType=SmokeTest" 2>&1) || true
    user=$(printf '%s' "$body" | json_user)
    sha=$(printf '%s' "$body" | json_field body_sha256)
    if [ "$user" = "alice@$LAB_REALM" ] && [ "$sha" = "$want_sha" ]; then
        ok "curl --negotiate -u : $url -> user=$user, body sha256 matches"
        printf '%s\n' "$body" | show
    else
        not_ok "curl --negotiate as alice to $url: $body"
    fi
done

# ---- 5. no credentials -> 401 Negotiate ---------------------------------------------------------------
hdrs=$(curl -sS -o /dev/null -D - --cacert "$LAB_CA_FILE" "$LAB_MAIL_URL?Cmd=Ping" 2>&1 || true)
if printf '%s' "$hdrs" | grep -q '^HTTP/[0-9.]* 401' && printf '%s' "$hdrs" | grep -qi '^WWW-Authenticate: Negotiate'; then
    ok "no credentials -> 401 WWW-Authenticate: Negotiate"
else
    not_ok "unauthenticated request did not get 401 Negotiate: $hdrs"
fi

# ---- 5b. per-connection semantics: 8443 wants Negotiate on every request, 8444
#          (GssapiConnectionBound On) accepts later requests on the authenticated
#          connection without a header.  curl --next reuses the connection.
for pair in "$LAB_MAIL_URL 401" "$LAB_MAIL_CONN_BOUND_URL 200"; do
    url=${pair% *}; want=${pair#* }
    codes=$(KRB5CCNAME="$cc_alice" curl -sS --cacert "$LAB_CA_FILE" --negotiate -u : -o /dev/null \
                -w '%{http_code}/%{num_connects} ' "$url?Cmd=Ping&n=1" \
            --next --cacert "$LAB_CA_FILE" -o /dev/null -w '%{http_code}/%{num_connects}' "$url?Cmd=Ping&n=2" 2>&1) || true
    if [ "$codes" = "200/1 $want/0" ]; then
        ok "same connection, 2nd request without Authorization on ${url%%/Microsoft*} -> $want (status/new-connections: $codes)"
    else
        not_ok "2nd request without Authorization on ${url%%/Microsoft*}: got '$codes', want '200/1 $want/0'"
    fi
done

# ---- 5c. ten users at once, each on its own kept-alive connection; the
#          stand-in's principal log must show one principal per connection.
from_line=$(( $(wc -l <"$LAB_MAIL_PRINCIPAL_LOG") + 1 ))
pids=()
for i in 01 02 03 04 05 06 07 08 09 10; do
    (
        c="FILE:$CC/user$i"
        printf '%s\n' "$LAB_USER_PASSWORD" | KRB5CCNAME="$c" kinit "user$i@$LAB_REALM" >/dev/null 2>&1 || exit 1
        KRB5CCNAME="$c" curl -sS -o /dev/null --fail --cacert "$LAB_CA_FILE" --negotiate -u : \
            "$LAB_MAIL_URL?Cmd=Ping&User=user$i&n=1" "$LAB_MAIL_URL?Cmd=Ping&User=user$i&n=2" \
            "$LAB_MAIL_URL?Cmd=Ping&User=user$i&n=3" >/dev/null 2>&1
    ) &
    pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
if [ "$fails" -eq 0 ] && out=$(bash "$LAB_SRC_DIR/check-connections.sh" --from-line "$from_line" "$LAB_MAIL_PRINCIPAL_LOG" 2>&1) \
        && [ "$(tail -n "+$from_line" "$LAB_MAIL_PRINCIPAL_LOG" | awk '{print $2}' | sort -u | wc -l)" -eq 10 ]; then
    ok "10 users x 3 requests in parallel: $out"
else
    not_ok "10-user parallel run: $fails client(s) failed; ${out:-}"
fi

# ---- 6. expected refusals ----------------------------------------------------------------------------
expect_refusal() { # description ccache for_user spn reason-regex
    local what="$1" cc="$2" user="$3" spn="$4" reason="$5" mark out rc=0
    mark=$(kdc_log_mark)
    out="$(KRB5CCNAME="$cc" kvno -I "$user" -P "$spn" --out-cache "$cc_tmp" 2>&1)" || rc=$?
    # Samba writes its audit line after it has answered: give it a moment to land.
    local refusals tries=0
    while refusals="$(kdc_refusals_since "$mark")" && ! printf '%s' "$refusals" | grep -Eq "$reason" \
            && [ "$tries" -lt 20 ]; do
        sleep 0.1; tries=$((tries + 1))
    done
    if [ "$rc" -ne 0 ] && printf '%s' "$refusals" | grep -Eq "$reason"; then
        ok "$what refused: $(printf '%s' "$out" | grep -E '^kvno:' | tail -n1)"
        printf '%s\n' "$refusals" | sed 's/^/KDC: /' | show
    else
        not_ok "$what: rc=$rc out=$out kdc=$refusals"
    fi
}
expect_refusal "S4U2Proxy for dave (sensitive, cannot be delegated) via EASGATE\$" \
    "$cc_gw" "dave@$LAB_REALM" "$LAB_MAIL_SPN" 'ERR_BADOPTION.*impersonatee=dave@.*reason=Missing forwardable flag'
expect_refusal "S4U2Proxy for carol (disabled) via EASGATE\$" \
    "$cc_gw" "carol@$LAB_REALM" "$LAB_MAIL_SPN" 'ERR_POLICY.*reason=Principal may not act as client'
expect_refusal "S4U2Proxy for alice via EASGATE\$ to HTTP/$LAB_DC_HOST (not in its delegation list)" \
    "$cc_gw" "alice@$LAB_REALM" "HTTP/$LAB_DC_HOST" 'ERR_(BADOPTION|S_PRINCIPAL_UNKNOWN)'
expect_refusal "S4U2Proxy for alice via EASGATE\$ to host/$LAB_DC_HOST (not in its delegation list)" \
    "$cc_gw" "alice@$LAB_REALM" "host/$LAB_DC_HOST" 'ERR_BADOPTION.*reason=Constrained delegation not allowed'
if KRB5CCNAME="$cc_nodeleg" kinit -k -t "$LAB_NODELEG_KEYTAB" "$LAB_NODELEG_PRINCIPAL" >/dev/null 2>&1; then
    ok "kinit -k -t $LAB_NODELEG_KEYTAB $LAB_NODELEG_PRINCIPAL"
    expect_refusal "S4U2Proxy for alice via EASGATE-NODELEG\$ (no delegation rights)" \
        "$cc_nodeleg" "alice@$LAB_REALM" "$LAB_MAIL_SPN" 'ERR_BADOPTION.*EASGATE-NODELEG.*impersonatee=alice@.*reason='
else
    not_ok "kinit -k as $LAB_NODELEG_PRINCIPAL"
fi
# carol cannot log on with her password either.
mark=$(kdc_log_mark)
if out="$(printf '%s\n' "$LAB_USER_PASSWORD" | KRB5CCNAME="$cc_tmp" kinit "carol@$LAB_REALM" 2>&1)"; then
    not_ok "kinit carol (disabled) succeeded"
else
    ok "kinit carol (disabled) refused: $(printf '%s' "$out" | tail -n1)"
    kdc_refusals_since "$mark" | sed 's/^/KDC: /' | show
fi

# ---- 7. LDAP with SASL/GSSAPI as EASGATE$: alice's mail, UPN and nested group ------------------------
ldap_out=$(KRB5CCNAME="$cc_gw" ldapsearch -LLL -N -Q -Y GSSAPI -H "$LAB_LDAP_URL" -b "$LAB_BASE_DN" \
    "(&(sAMAccountName=alice)(memberOf:1.2.840.113556.1.4.1941:=CN=eas-users,CN=Users,$LAB_BASE_DN))" \
    userPrincipalName mail 2>&1) || true
if printf '%s' "$ldap_out" | grep -q '^userPrincipalName: alice@example.test'; then
    ok "LDAP (SASL GSSAPI as EASGATE\$): alice is in eas-users through nested group sales"
    printf '%s\n' "$ldap_out" | grep -E '^(dn|userPrincipalName|mail):' | show
else
    not_ok "LDAP nested-group lookup of alice: $ldap_out"
fi

# ---- 8. the two-tier PKI: each CRL fetched from the http:// CDP its certificate names -----------------
http_cdp() { # certificate -> the http:// URL of its CRL distribution point
    openssl x509 -in "$1" -noout -ext crlDistributionPoints | sed -n 's/^ *URI:\(http:.*\)$/\1/p'
}
pki_tmp=$(mktemp -d)
root_url=$(http_cdp "$LAB_ISSUING_CA_CERT") issuing_url=$(http_cdp "$LAB_CLIENT_CERT_DIR/alice.pem")
if curl -sS --fail -o "$pki_tmp/root.crl" "$root_url" 2>"$pki_tmp/err" &&
    curl -sS --fail -o "$pki_tmp/issuing.crl" "$issuing_url" 2>>"$pki_tmp/err"; then
    verify() { openssl verify -crl_check_all -CAfile "$LAB_CA_FILE" -CRLfile "$pki_tmp/root.crl" -CRLfile "$pki_tmp/issuing.crl" "$@" 2>&1; }
    if out=$(verify "$LAB_CLIENT_CERT_DIR/alice.pem" "$LAB_MAIL_CERT"); then
        ok "alice's device and mail's server certificate verify up to the root, with the CRLs from $root_url and $issuing_url"
    else
        not_ok "two-tier chain with CRLs: $out"
    fi
    if out=$(verify "$LAB_CLIENT_CERT_DIR/$LAB_REVOKED_CLIENT.pem"); then
        not_ok "$LAB_REVOKED_CLIENT verified, but the issuing CA revoked it"
    elif printf '%s' "$out" | grep -q 'certificate revoked'; then
        ok "$LAB_REVOKED_CLIENT (alice's lost phone) is on the issuing CA's CRL"
    else
        not_ok "$LAB_REVOKED_CLIENT: $out"
    fi
    # Revoked since the base CRL: only the delta CRL (the base's Freshest CRL) lists it.
    delta_url=$(openssl crl -in "$pki_tmp/issuing.crl" -noout -text | sed -n 's/^ *URI:\(http:.*+\.crl\)$/\1/p')
    stolen="$LAB_CLIENT_CERT_DIR/$LAB_DELTA_REVOKED_CLIENT.pem"
    if [ -z "$delta_url" ] || ! curl -sS --fail -o "$pki_tmp/delta.crl" "$delta_url" 2>"$pki_tmp/err"; then
        not_ok "the issuing CA's delta CRL (Freshest CRL ${delta_url:-missing} of its base CRL): $(cat "$pki_tmp/err")"
    elif ! verify "$stolen" >/dev/null; then
        not_ok "$LAB_DELTA_REVOKED_CLIENT is on the base CRL already: $(verify "$stolen")"
    elif out=$(verify -use_deltas -CRLfile "$pki_tmp/delta.crl" "$stolen"); then
        not_ok "$LAB_DELTA_REVOKED_CLIENT verified with the delta CRL from $delta_url, which revokes it"
    else
        ok "$LAB_DELTA_REVOKED_CLIENT (alice's stolen phone) is on the delta CRL from $delta_url only"
    fi
else
    not_ok "fetching the CRLs from their CDPs ($root_url, $issuing_url): $(cat "$pki_tmp/err")"
fi
rm -rf "$pki_tmp"

# ---- 9. dc2, a second DC of the domain: its own KDC delegates, its LDAPS answers, it replicates ------
dc2_conf="$CC/krb5-dc2.conf"
sed "/kdc = $LAB_DC_IP:88/d" "$KRB5_CONFIG" >"$dc2_conf"  # dc2 alone
if out="$(KRB5_CONFIG="$dc2_conf" KRB5CCNAME="$cc_tmp" sh -c \
        'kinit -k -t "$1" "$2" && kvno -I "bob@$3" -P "$4"' - "$LAB_EASGATE_KEYTAB" "$LAB_EASGATE_PRINCIPAL" "$LAB_REALM" "$LAB_MAIL_SPN" 2>&1)"; then
    ok "dc2's KDC alone: kinit as $LAB_EASGATE_PRINCIPAL, then S4U2Self + S4U2Proxy for bob: $out"
else
    not_ok "S4U through dc2's KDC alone: $out"
fi
stamp="smoke-$(date +%s%N)"
printf 'dn: CN=bob,CN=Users,%s\nchangetype: modify\nreplace: description\ndescription: %s\n' "$LAB_BASE_DN" "$stamp" |
    LDAPTLS_CACERT="$LAB_LDAPS_CA_FILE" ldapmodify -x -H "$LAB_LDAPS_URL" -D "CN=Administrator,CN=Users,$LAB_BASE_DN" \
        -w "$LAB_ADMIN_PASSWORD" >"$CC/modify.out" 2>&1 || not_ok "writing bob's description on dc1: $(cat "$CC/modify.out")"
replicated=""
for _ in $(seq 1 60); do  # Samba notifies its partners of a change within seconds
    replicated=$(LDAPTLS_CACERT="$LAB_LDAPS_CA_FILE" ldapsearch -LLL -x -H "$LAB_DC2_LDAPS_URL" -D "CN=Administrator,CN=Users,$LAB_BASE_DN" \
        -w "$LAB_ADMIN_PASSWORD" -b "$LAB_BASE_DN" "(sAMAccountName=bob)" description 2>&1 | sed -n 's/^description: //p')
    [ "$replicated" = "$stamp" ] && break
    sleep 0.5
done
if [ "$replicated" = "$stamp" ]; then
    ok "a change written on dc1 is read from $LAB_DC2_LDAPS_URL (LDAPS certificate from the issuing CA)"
else
    not_ok "the change written on dc1 ($stamp) not on $LAB_DC2_LDAPS_URL after 30 s: '$replicated'"
fi

rm -f "$CC"/*
echo "== smoke phase took $(elapsed "$T0")"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
