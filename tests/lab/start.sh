#!/usr/bin/env bash
# Start the easgate loopback lab:
#   - Samba AD DCs for EXAMPLE.TEST on 127.0.0.10 (dc1.example.test) and 127.0.0.14
#     (dc2.example.test, joined to the domain on first start, replicating with dc1)
#   - the Exchange stand-in: Apache + mod_auth_gssapi on 127.0.0.11
#     (mail.example.test) port 8443 (Negotiate on every request) and port 8444
#     (GssapiConnectionBound On: one authentication per TCP connection)
# Provisions the domain first if $LAB_DIR holds none (or LAB_REPROVISION=1),
# creates the lab PKI if missing (pki.sh), writes $LAB_DIR/lab.env and prints it.
#
# usage: start.sh [LAB_DIR]        (default $LAB_DIR, else /tmp/easgate-lab)
# Every process started is recorded in $LAB_DIR/pids/*.pid; stop.sh stops them.
set -euo pipefail
LAB_LOG_TAG="lab-start"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lab_init_dir "${1:-}"
need_root
need_tools samba samba-tool kinit kvno klist ldapsearch ldbsearch apache2 openssl curl od /usr/bin/python3 setsid

T_ALL=$(now_ms)
mkdir -p "$LAB_DIR" "$LAB_PID_DIR" "$LAB_LOG_DIR"
chmod 755 "$LAB_DIR"
ensure_hosts
write_krb5_conf
export KRB5_CONFIG="$LAB_KRB5_CONF"

# ---- 1. domain -----------------------------------------------------------------
T_PROV=$(now_ms)
provisioned=0
if [ "${LAB_REPROVISION:-0}" = 1 ]; then
    log "LAB_REPROVISION=1: provisioning again"
elif [ -f "$LAB_PROVISIONED_MARK" ] && grep -qx "LAB_DIR=$LAB_DIR" "$LAB_PROVISIONED_MARK" \
        && [ -f "$LAB_SMB_CONF" ] && [ -s "$LAB_KEYTAB_DIR/easgate.keytab" ]; then
    if grep -qx "fingerprint=$(provision_fingerprint)" "$LAB_PROVISIONED_MARK"; then
        provisioned=1
    else
        log "the lab scripts changed since $LAB_DIR was provisioned: provisioning again"
    fi
fi
if [ "$provisioned" = 0 ]; then
    stop_pid samba-dc2; stop_pid samba
    bash "$LAB_SRC_DIR/provision.sh" "$LAB_DIR"
    log "phase provision: $(elapsed "$T_PROV")"
else
    log "reusing the domain provisioned in $LAB_SAMBA_DIR ($(sed -n 's/^provisioned=//p' "$LAB_PROVISIONED_MARK"))"
fi
PHASE_PROVISION="$(elapsed "$T_PROV")"

# ---- 2. lab PKI (two-tier: root CA, issuing CA, CRLs; server and device certificates) -------
# shellcheck source-path=SCRIPTDIR source=pki.sh
. "$LAB_SRC_DIR/pki.sh"
T_PKI=$(now_ms)
make_lab_pki
log "phase pki: $(elapsed "$T_PKI")"

# ---- 3. Samba AD DCs: dc1, then dc2 (joined to the domain and replicating with dc1) -----------
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
kdc_answers() {
    KRB5CCNAME="MEMORY:lab-probe" kinit -k -t "$LAB_KEYTAB_DIR/easgate.keytab" 'EASGATE$@'"$LAB_REALM" >/dev/null 2>&1
}
ldap_answers() { # host
    ldapsearch -x -H "ldap://$1" -b "" -s base defaultNamingContext 2>/dev/null | grep -q '^defaultNamingContext:'
}
dc_answers() { # ip host: the KDC (krb5.conf lists dc1 first: probe dc2's port) and LDAP
    if [ "$1" = "$LAB_DC_IP" ]; then kdc_answers; else port_open "$1" 88; fi && ldap_answers "$2"
}

start_dc() { # pid-name ip host smb.conf log
    local name="$1" ip="$2" host="$3" conf="$4" log="$5" p
    if pid_alive "$name"; then
        log "$name already running (pid $(cat "$(pid_file "$name")"))"
    else
        rm -f "$(pid_file "$name")"
        for p in 88 389; do
            port_open "$ip" "$p" && die "something not started by the lab already listens on $ip:$p (a system samba-ad-dc? run install-packages.sh, which stops it)"
        done
        # Samba writes its own pid file too; remove a stale one from a killed run.
        rm -f "$(dirname "$conf")"/../samba.pid "$(dirname "$conf")"/../run/samba.pid 2>/dev/null || true
        cap_log "$log" "$LAB_LOG_DIR/$name.out"
        # No log rotation (Samba's default rotates at 5 MB): tests read the KDC's audit lines from a
        # byte offset in the log, which a rotation in mid-test would empty. cap_log bounds it instead.
        # LDAPS with a certificate from the issuing CA, as DCs enrol one from AD CS.
        spawn "$name" env KRB5_CONFIG="$LAB_KRB5_CONF" samba -s "$conf" --foreground --no-process-group \
            --option="max log size = 0" --option="tls enabled = yes" \
            --option="tls keyfile = $LAB_PKI_DIR/${host%%.*}.key" --option="tls certfile = $LAB_PKI_DIR/${host%%.*}.pem" \
            --option="tls cafile = $LAB_PKI_DIR/ca.pem"
    fi
    if ! wait_until 30 "$name" dc_answers "$ip" "$host"; then
        tail -n 30 "$log" "$LAB_LOG_DIR/$name.out" >&2 || true
        die "$host's KDC or LDAP did not answer within 30 s (logs: $log, $LAB_LOG_DIR/$name.out)"
    fi
}

T_SAMBA=$(now_ms)
if [ "$PKI_RENEWED" = 1 ]; then stop_pid samba-dc2; stop_pid samba; fi  # new DC certificates
start_dc samba "$LAB_DC_IP" "$LAB_DC_HOST" "$LAB_SMB_CONF" "$LAB_LOG_DIR/samba.log"
log "phase samba: KDC and LDAP answer on $LAB_DC_IP after $(elapsed "$T_SAMBA")"
publish_crls_in_directory  # before dc2 starts: it replicates them
publish_ntauth_in_directory
PHASE_SAMBA="$(elapsed "$T_SAMBA")"

T_DC2=$(now_ms)
if [ ! -s "$LAB_DC2_DIR/private/sam.ldb" ]; then
    stop_pid samba-dc2
    rm -rf "$LAB_DC2_DIR"
    : >"$LAB_DIR/empty-smb.conf"
    lab_dc_options "$LAB_DC2_IP" "$LAB_LOG_DIR/samba-dc2.log"
    # As an admin promotes a second DC: a full join (replicating the domain, its secrets and the
    # krbtgt keys), then the DC's own SPNs (ldap/dc2…).
    if ! samba-tool domain join "$LAB_DNS_DOMAIN" DC -s "$LAB_DIR/empty-smb.conf" --targetdir="$LAB_DC2_DIR" \
            --server="$LAB_DC_HOST" -U "$LAB_NETBIOS_DOMAIN\\Administrator%$LAB_ADMIN_PASSWORD" \
            --realm="$LAB_REALM" --dns-backend=NONE \
            --option="workgroup = $LAB_NETBIOS_DOMAIN" --option="netbios name = ${LAB_DC2_HOST%%.*}" \
            --option="pid directory = $LAB_DC2_DIR/run" --option="ncalrpc dir = $LAB_DC2_DIR/run/ncalrpc" \
            "${LAB_DC_OPTIONS[@]}" >"$LAB_LOG_DIR/join-dc2.log" 2>&1; then
        tail -n 25 "$LAB_LOG_DIR/join-dc2.log" >&2
        die "joining $LAB_DC2_HOST to the domain failed (log: $LAB_LOG_DIR/join-dc2.log)"
    fi
    rm -f "$LAB_DIR/empty-smb.conf"
    mkdir -p "$LAB_DC2_DIR/run"
    samba_spnupdate -s "$LAB_DC2_SMB_CONF" >>"$LAB_LOG_DIR/join-dc2.log" 2>&1 || die "samba_spnupdate on dc2 failed (log: $LAB_LOG_DIR/join-dc2.log)"
    log "joined $LAB_DC2_HOST to $LAB_REALM in $(elapsed "$T_DC2")"
fi
ensure_dsa_hosts "$LAB_DC_IP" "$(dsa_guid "$LAB_SAMBA_DIR/private/sam.ldb")" \
    "$LAB_DC2_IP" "$(dsa_guid "$LAB_DC2_DIR/private/sam.ldb")"
start_dc samba-dc2 "$LAB_DC2_IP" "$LAB_DC2_HOST" "$LAB_DC2_SMB_CONF" "$LAB_LOG_DIR/samba-dc2.log"
# Both ways at once rather than at the next change notification: dc1's KDC learns a new dc2's SPNs,
# and a dc2 that was stopped catches up before tests read from it.
replicate_dcs
replicate_dcs "CN=Configuration,DC=${LAB_DNS_DOMAIN//./,DC=}"  # the CRLs published there
log "phase dc2: KDC and LDAP answer on $LAB_DC2_IP after $(elapsed "$T_DC2")"
PHASE_DC2="$(elapsed "$T_DC2")"

# ---- 4. Exchange stand-in (Apache) -----------------------------------------------------
H="$LAB_HTTPD_DIR"
mkdir -p "$H/run" "$H/logs" "$H/cgi-bin" "$H/htdocs"
install -m 755 "$LAB_SRC_DIR/eas-handler.py" "$H/cgi-bin/eas-handler.py"
PRINCIPAL_LOG="$H/logs/principals.log"
touch "$PRINCIPAL_LOG"
RUN_USER=www-data; RUN_GROUP=www-data
getent passwd "$RUN_USER" >/dev/null || die "user $RUN_USER missing (apache2 package not installed?)"
chown "$RUN_USER:$RUN_GROUP" "$H/logs" "$PRINCIPAL_LOG" "$H/run"
chgrp "$RUN_GROUP" "$LAB_KEYTAB_DIR/mail.keytab" && chmod 640 "$LAB_KEYTAB_DIR/mail.keytab"
# One Exchange server of the farm holds a key for the SPN that the KDC no longer uses: the account's
# password changed (an alternate service account's roll) and this server was not given the new one.
# Same principal as mail.keytab, another key, under every key version up to 99 (tests that rekey the
# account raise its kvno): the tickets it is sent fail to decrypt, as on Windows (KRB_AP_ERR_MODIFIED).
STALE_KEYTAB="$LAB_KEYTAB_DIR/mail-stale.keytab"
rm -f "$STALE_KEYTAB"
stale_password="Stale-$(date +%s%N)"
for kvno in $(seq 1 99); do
    printf 'addent -password -p %s@%s -k %s -e aes256-cts-hmac-sha1-96\n%s\n' "$LAB_MAIL_SPN" "$LAB_REALM" "$kvno" "$stale_password"
done | { cat; printf 'wkt %s\n' "$STALE_KEYTAB"; } | ktutil >/dev/null || die "ktutil could not write $STALE_KEYTAB"
chgrp "$RUN_GROUP" "$STALE_KEYTAB" && chmod 640 "$STALE_KEYTAB"
MODS=/usr/lib/apache2/modules

cat >"$H/httpd.conf.new" <<CONF
# easgate lab - Exchange stand-in.  Generated by tests/lab/start.sh; private
# instance (own ServerRoot, PidFile, ports), never the system apache2.
ServerRoot "$H"
ServerName $LAB_MAIL_HOST
PidFile "$H/run/httpd.pid"
DefaultRuntimeDir "$H/run"
Mutex file:$H/run default
ErrorLog "$H/logs/error.log"
# ssl:info logs one line per new connection, which makes Apache generate the
# connection log id (%{c}L / CONN_LOG_ID) used as the per-connection key.
LogLevel warn auth_gssapi:info ssl:info
User $RUN_USER
Group $RUN_GROUP

LoadModule mpm_prefork_module $MODS/mod_mpm_prefork.so
LoadModule authn_core_module $MODS/mod_authn_core.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule authz_user_module $MODS/mod_authz_user.so
LoadModule auth_gssapi_module $MODS/mod_auth_gssapi.so
LoadModule socache_shmcb_module $MODS/mod_socache_shmcb.so
LoadModule ssl_module $MODS/mod_ssl.so
LoadModule cgi_module $MODS/mod_cgi.so
LoadModule alias_module $MODS/mod_alias.so
LoadModule env_module $MODS/mod_env.so
LoadModule setenvif_module $MODS/mod_setenvif.so
LoadModule unique_id_module $MODS/mod_unique_id.so
LoadModule mime_module $MODS/mod_mime.so
TypesConfig /dev/null

# Keep connections open: the point of the tests is connection reuse.
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 60
Timeout 120
# prefork: one process per kept-alive connection. Tests open a few dozen at once; starting them
# all up front keeps handshakes from queueing behind the one-per-second spawn ramp. easgate pools
# backend connections per user and worker thread: the isolation stress (50 users, two backends)
# keeps a few hundred alive at once, each holding a process.
StartServers 48
MinSpareServers 24
MaxSpareServers 64
ServerLimit 512
MaxRequestWorkers 512
MaxConnectionsPerChild 0

Listen $LAB_MAIL_IP:$LAB_MAIL_PORT
Listen $LAB_MAIL_IP:$LAB_MAIL_PORT_CB
Listen $LAB_MAIL_IP:$LAB_MAIL_PORT_STALE
Listen $LAB_PKI_IP:80

SSLSessionCache "shmcb:$H/run/ssl_scache(512000)"
SSLRandomSeed startup builtin
SSLProtocol -all +TLSv1.2 +TLSv1.3

# %{c}L = connection log id (unique per TCP connection), %{remote}p = client port.
LogFormat "%{c}L %a:%{remote}p %{local}p %{UNIQUE_ID}e \"%u\" %>s \"%r\" %I %O %D" labconn
ErrorLogFormat "[%{u}t] [%-m:%l] [pid %P] [conn\ %{c}L] [client\ %a] %M"

DocumentRoot "$H/htdocs"
<Directory />
    Require all denied
    AllowOverride None
</Directory>
<Directory "$H/cgi-bin">
    Options +ExecCGI
    Require all granted
    # The handler reports which Authorization scheme each request carried (never the token).
    CGIPassAuth On
</Directory>
CONF
for port in "$LAB_MAIL_PORT" "$LAB_MAIL_PORT_CB" "$LAB_MAIL_PORT_STALE"; do
    # 8443 takes header fields up to 64 KiB (IIS with MaxFieldLength raised for large tokens);
    # 8444 keeps Apache's default 8190 bytes, so a large token gets its 400.
    if [ "$port" = "$LAB_MAIL_PORT_CB" ]; then cb=On; field=8190; else cb=Off; field=65536; fi
    keytab="$LAB_KEYTAB_DIR/mail.keytab"
    [ "$port" = "$LAB_MAIL_PORT_STALE" ] && keytab="$STALE_KEYTAB"
    cat >>"$H/httpd.conf.new" <<CONF

<VirtualHost $LAB_MAIL_IP:$port>
    ServerName $LAB_MAIL_HOST:$port
    SSLEngine on
    LimitRequestFieldSize $field
    SSLCertificateFile "$LAB_PKI_DIR/mail.pem"
    SSLCertificateKeyFile "$LAB_PKI_DIR/mail.key"
    CustomLog "$H/logs/access-$port.log" labconn
    SetEnv LAB_PRINCIPAL_LOG "$PRINCIPAL_LOG"
    # Expose the connection log id to the CGI (empty if the server has none).
    SetEnvIfExpr "%{CONN_LOG_ID} =~ /^(.+)\$/" LAB_CONN_LOG_ID=\$1
    ScriptAlias /Microsoft-Server-ActiveSync "$H/cgi-bin/eas-handler.py"
    <Location /Microsoft-Server-ActiveSync>
        AuthType GSSAPI
        AuthName "easgate lab Exchange stand-in"
        GssapiCredStore keytab:$keytab
        GssapiAllowedMech krb5
        GssapiBasicAuth Off
        GssapiSSLonly On
        GssapiLocalName Off
        GssapiUseSessions Off
        GssapiConnectionBound $cb
        Require valid-user
    </Location>
</VirtualHost>
CONF
done

cat >>"$H/httpd.conf.new" <<CONF

# The CAs' CRL distribution point, as IIS serves AD CS's CertEnroll folder.
<VirtualHost $LAB_PKI_IP:80>
    ServerName $LAB_PKI_HOST
    CustomLog "$H/logs/access-pki.log" labconn
    Alias /CertEnroll "$LAB_PKI_DIR/CertEnroll"
    <Directory "$LAB_PKI_DIR/CertEnroll">
        Require all granted
    </Directory>
    AddType application/pkix-crl .crl
</VirtualHost>
CONF

T_HTTPD=$(now_ms)
# Reload a running Apache only for a changed config: for some seconds after a graceful restart, new
# connections wait for a process (the isolation stress saw TLS handshakes time out after 10 s).
unchanged=0
cmp -s "$H/httpd.conf.new" "$H/httpd.conf" && unchanged=1
mv "$H/httpd.conf.new" "$H/httpd.conf"
if [ "$PKI_RENEWED" = 1 ]; then  # new server certificates: start over with them
    stop_pid httpd
    stop_pid extended-protection
fi
if pid_alive httpd && [ "$unchanged" = 1 ]; then
    log "apache already running (pid $(cat "$(pid_file httpd)")) with this config"
elif pid_alive httpd; then
    log "apache already running (pid $(cat "$(pid_file httpd)")); reloading its config"
    apache2 -f "$H/httpd.conf" -t >"$LAB_LOG_DIR/httpd-configtest.log" 2>&1 || { cat "$LAB_LOG_DIR/httpd-configtest.log" >&2; die "apache config test failed"; }
    kill -USR1 "$(cat "$(pid_file httpd)")"
else
    rm -f "$(pid_file httpd)" "$H/run/httpd.pid"
    cap_log "$H"/logs/*.log "$LAB_LOG_DIR/httpd.out"
    for p in "$LAB_MAIL_IP:$LAB_MAIL_PORT" "$LAB_MAIL_IP:$LAB_MAIL_PORT_CB" "$LAB_MAIL_IP:$LAB_MAIL_PORT_STALE" "$LAB_PKI_IP:80"; do
        port_open "${p%:*}" "${p##*:}" && die "something not started by the lab already listens on $p"
    done
    apache2 -f "$H/httpd.conf" -t >"$LAB_LOG_DIR/httpd-configtest.log" 2>&1 || { cat "$LAB_LOG_DIR/httpd-configtest.log" >&2; die "apache config test failed (config: $H/httpd.conf)"; }
    spawn httpd env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C \
        KRB5_CONFIG="$LAB_KRB5_CONF" KRB5RCACHEDIR="$H/run" \
        apache2 -f "$H/httpd.conf" -DFOREGROUND
fi
http_code() { # url port -> prints status code
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$LAB_PKI_DIR/ca.pem" "$1" 2>/dev/null || true
}
mail_answers() {
    [ "$(http_code "https://$LAB_MAIL_HOST:$LAB_MAIL_PORT/Microsoft-Server-ActiveSync")" = 401 ] &&
    [ "$(http_code "https://$LAB_MAIL_HOST:$LAB_MAIL_PORT_CB/Microsoft-Server-ActiveSync")" = 401 ] &&
    [ "$(http_code "https://$LAB_MAIL_HOST:$LAB_MAIL_PORT_STALE/Microsoft-Server-ActiveSync")" = 401 ] &&
    [ "$(http_code "$LAB_CRL_BASE_URL/${lab_ca_names[1]// /%20}.crl")" = 200 ] &&
    [ "$(http_code "$LAB_CRL_BASE_URL/${lab_ca_names[1]// /%20}+.crl")" = 200 ]
}
if ! wait_until 20 httpd mail_answers; then
    tail -n 30 "$H/logs/error.log" "$LAB_LOG_DIR/httpd.out" >&2 || true
    die "the Exchange stand-in did not answer 401 on ports $LAB_MAIL_PORT/$LAB_MAIL_PORT_CB (or the CDPs 200) within 20 s"
fi
log "phase apache: 401 Negotiate on https://$LAB_MAIL_HOST:{$LAB_MAIL_PORT,$LAB_MAIL_PORT_CB,$LAB_MAIL_PORT_STALE} after $(elapsed "$T_HTTPD")"
PHASE_HTTPD="$(elapsed "$T_HTTPD")"

# ---- 4b. Exchange with Extended Protection (python3-gssapi acceptor) --------------------
T_EP=$(now_ms)
if pid_alive extended-protection; then
    log "extended-protection backend already running (pid $(cat "$(pid_file extended-protection)"))"
else
    port_open "$LAB_MAIL_IP" "$LAB_MAIL_PORT_EP" && die "something not started by the lab already listens on $LAB_MAIL_IP:$LAB_MAIL_PORT_EP"
    spawn extended-protection env -i PATH=/usr/bin:/bin LANG=C.UTF-8 \
        KRB5_CONFIG="$LAB_KRB5_CONF" KRB5RCACHEDIR="$LAB_HTTPD_DIR/run" \
        /usr/bin/python3 -I "$LAB_SRC_DIR/extended-protection-backend.py" \
        --listen "$LAB_MAIL_IP:$LAB_MAIL_PORT_EP" --cert "$LAB_PKI_DIR/mail.pem" --key "$LAB_PKI_DIR/mail.key" \
        --keytab "$LAB_KEYTAB_DIR/mail.keytab" --service "HTTP@$LAB_MAIL_HOST"
fi
ep_answers() { [ "$(http_code "https://$LAB_MAIL_HOST:$LAB_MAIL_PORT_EP/Microsoft-Server-ActiveSync")" = 401 ]; }
if ! wait_until 20 extended-protection ep_answers; then
    tail -n 30 "$LAB_LOG_DIR/extended-protection.out" >&2 || true
    die "the Extended Protection backend did not answer 401 on port $LAB_MAIL_PORT_EP within 20 s"
fi
log "phase extended-protection: 401 Negotiate on https://$LAB_MAIL_HOST:$LAB_MAIL_PORT_EP after $(elapsed "$T_EP")"

# ---- 5. lab.env ----------------------------------------------------------------------
cat >"$LAB_ENV_FILE" <<ENV
# easgate loopback lab - generated by tests/lab/start.sh; source it (values are single-quoted).
LAB_DIR='$LAB_DIR'
KRB5_CONFIG='$LAB_KRB5_CONF'
LAB_KRB5_CONFIG='$LAB_KRB5_CONF'
LAB_CCACHE_DIR='$LAB_DIR/ccache'
LAB_REALM='$LAB_REALM'
LAB_DNS_DOMAIN='$LAB_DNS_DOMAIN'
LAB_NETBIOS_DOMAIN='$LAB_NETBIOS_DOMAIN'
LAB_KDC='$LAB_DC_IP'
LAB_DC_HOST='$LAB_DC_HOST'
LAB_DC_IP='$LAB_DC_IP'
LAB_KDC_LOG='$LAB_LOG_DIR/samba.log'
LAB_LDAP_URL='ldap://$LAB_DC_HOST'
LAB_LDAPS_URL='ldaps://$LAB_DC_HOST'
LAB_LDAPS_CA_FILE='$LAB_PKI_DIR/ca.pem'
LAB_DC2_HOST='$LAB_DC2_HOST'
LAB_DC2_IP='$LAB_DC2_IP'
LAB_DC2_KDC_LOG='$LAB_LOG_DIR/samba-dc2.log'
LAB_DC2_LDAPS_URL='ldaps://$LAB_DC2_HOST'
LAB_BASE_DN='DC=${LAB_DNS_DOMAIN//./,DC=}'
LAB_ADMIN_PRINCIPAL='Administrator@$LAB_REALM'
LAB_ADMIN_PASSWORD='$LAB_ADMIN_PASSWORD'
LAB_USER_PASSWORD='$LAB_USER_PASSWORD'
LAB_USERS='${LAB_USERS[*]}'
LAB_DISABLED_USER='carol'
LAB_NOT_DELEGATED_USER='dave'
LAB_MAIL_HOST='$LAB_MAIL_HOST'
LAB_MAIL_IP='$LAB_MAIL_IP'
LAB_MAIL_SPN='$LAB_MAIL_SPN'
LAB_MAIL_GSS_SERVICE='HTTP@$LAB_MAIL_HOST'
LAB_MAIL_KEYTAB='$LAB_KEYTAB_DIR/mail.keytab'
LAB_MAIL_BASE_URL='https://$LAB_MAIL_HOST:$LAB_MAIL_PORT'
LAB_MAIL_URL='https://$LAB_MAIL_HOST:$LAB_MAIL_PORT/Microsoft-Server-ActiveSync'
LAB_MAIL_CONN_BOUND_BASE_URL='https://$LAB_MAIL_HOST:$LAB_MAIL_PORT_CB'
LAB_MAIL_STALE_KEY_BASE_URL='https://$LAB_MAIL_HOST:$LAB_MAIL_PORT_STALE'
LAB_MAIL_EXTENDED_PROTECTION_BASE_URL='https://$LAB_MAIL_HOST:$LAB_MAIL_PORT_EP'
LAB_MAIL_EXTENDED_PROTECTION_LOG='$LAB_LOG_DIR/extended-protection.out'
LAB_MAIL_CONN_BOUND_URL='https://$LAB_MAIL_HOST:$LAB_MAIL_PORT_CB/Microsoft-Server-ActiveSync'
LAB_MAIL_PRINCIPAL_LOG='$PRINCIPAL_LOG'
LAB_MAIL_ACCESS_LOG='$H/logs/access-$LAB_MAIL_PORT.log'
LAB_MAIL_CONN_BOUND_ACCESS_LOG='$H/logs/access-$LAB_MAIL_PORT_CB.log'
LAB_MAIL_ERROR_LOG='$H/logs/error.log'
LAB_CA_FILE='$LAB_PKI_DIR/ca.pem'
LAB_ROOT_CA_CERT='$LAB_PKI_DIR/root-ca.pem'
LAB_ISSUING_CA_CERT='$LAB_PKI_DIR/issuing-ca.pem'
LAB_ISSUING_CA_KEY='$LAB_PKI_DIR/issuing-ca.key'
LAB_ROOT_CRL='$LAB_PKI_DIR/CertEnroll/${lab_ca_names[0]}.crl'
LAB_ISSUING_CRL='$LAB_PKI_DIR/CertEnroll/${lab_ca_names[1]}.crl'
LAB_ISSUING_CRL_URL='$LAB_CRL_BASE_URL/${lab_ca_names[1]// /%20}.crl'
LAB_ISSUING_DELTA_CRL='$LAB_PKI_DIR/CertEnroll/${lab_ca_names[1]}+.crl'
LAB_ISSUING_DELTA_CRL_URL='$LAB_CRL_BASE_URL/${lab_ca_names[1]// /%20}+.crl'
LAB_PKI_ACCESS_LOG='$H/logs/access-pki.log'
LAB_REVOKED_CLIENT='alice-lost'
LAB_DELTA_REVOKED_CLIENT='alice-stolen'
LAB_MAIL_CERT='$LAB_PKI_DIR/mail.pem'
LAB_GW_HOST='$LAB_GW_HOST'
LAB_GW_IP='$LAB_GW_IP'
LAB_GW_CERT='$LAB_PKI_DIR/gateway.pem'
LAB_GW_KEY='$LAB_PKI_DIR/gateway.key'
LAB_CLIENT_CERT_DIR='$LAB_PKI_DIR/clients'
LAB_EASGATE_PRINCIPAL='EASGATE\$@$LAB_REALM'
LAB_EASGATE_KEYTAB='$LAB_KEYTAB_DIR/easgate.keytab'
LAB_NODELEG_PRINCIPAL='EASGATE-NODELEG\$@$LAB_REALM'
LAB_NODELEG_KEYTAB='$LAB_KEYTAB_DIR/easgate-nodeleg.keytab'
LAB_NOLIST_PRINCIPAL='EASGATE-NOLIST\$@$LAB_REALM'
LAB_NOLIST_KEYTAB='$LAB_KEYTAB_DIR/easgate-nolist.keytab'
LAB_SERVICE_PASSWORD='$LAB_SVC_PASSWORD'
ENV
chmod 644 "$LAB_ENV_FILE"

log "phases: provision $PHASE_PROVISION, samba $PHASE_SAMBA, dc2 $PHASE_DC2, apache $PHASE_HTTPD; total $(elapsed "$T_ALL")"
log "lab is up; env file: $LAB_ENV_FILE (source it); stop with: tests/lab/stop.sh $LAB_DIR"
cat "$LAB_ENV_FILE"
