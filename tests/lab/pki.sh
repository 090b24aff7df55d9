# shellcheck shell=bash
# The lab's PKI, cut like almost every AD CS estate: an offline root CA → an enterprise issuing CA
# → devices and web servers, each CA publishing its CRL in the directory at an ldap:/// CDP and at
# an http:// one after it (AD CS's default "http://<host>/CertEnroll/<CA name>.crl", spaces and all). The issuing CA
# also publishes a delta CRL, as an enterprise CA does by default: "<CA name>+.crl", named by the
# Freshest CRL extension of its base CRL and of the certificates it issues. Sourced by start.sh
# (needs lib.sh). A one-tier test PKI once hid that every device of a two-tier estate was refused:
# the lab, the demo and the lab tests run on this one.
#
# Files in $LAB_PKI_DIR: root-ca.{pem,key}, issuing-ca.{pem,key}, ca.pem (issuing + root: what an
# admin gives easgate as trusted_ca_file), mail/gateway/dc1/dc2.{pem,key} (leaf + issuing CA),
# clients/<user>.{pem,key} (with the user's SID, as AD CS issues them since KB5014754; made after
# the domain is provisioned), clients/alice-lost.{pem,key} (alice's lost phone: revoked, key
# compromise, on the base CRL), clients/alice-stolen.{pem,key} (revoked since the base CRL was
# published: only the delta CRL lists it), CertEnroll/<CA name>.crl and CertEnroll/<issuing CA
# name>+.crl (published by Apache at $LAB_CRL_BASE_URL).

# What make_lab_pki makes; a lab whose PKI was made to another layout gets a new one.
lab_pki_layout=3

lab_ca_names=("easgate lab Root CA" "easgate lab Issuing CA")

# One openssl configuration for the whole PKI: `openssl ca` keeps each CA's revocations and CRL
# number; the extension sections are what AD CS's templates put in. A leaf's SAN, key usage and
# EKU come from $LAB_CERT_SAN, $LAB_CERT_USAGE and $LAB_CERT_EKU.
lab_openssl_config() {
    local d="$LAB_PKI_DIR" base_dn="DC=${LAB_DNS_DOMAIN//./,DC=}"
    printf '[ req ]\ndistinguished_name = dn\n[ dn ]\n'
    # AD CS defaults: the offline root's CRL lasts months; the issuing CA's base CRL a week, listing
    # what was revoked when it was published (a copy of the revocations then), and its delta CRL a
    # day (two here), listing everything revoked since, with the base's number.
    printf '[ root ]\ndatabase = %s/root-index.txt\ncrlnumber = %s/root-crlnumber\n' "$d" "$d"
    printf 'default_md = sha256\ncrl_extensions = crl_ext\ndefault_crl_days = 180\n'
    printf '[ issuing_base ]\ndatabase = %s/issuing-base-index.txt\ncrlnumber = %s/issuing-crlnumber\n' "$d" "$d"
    printf 'default_md = sha256\ncrl_extensions = crl_base_ext\ndefault_crl_days = 8\n'
    printf '[ issuing ]\ndatabase = %s/issuing-index.txt\ncrlnumber = %s/issuing-crlnumber\n' "$d" "$d"
    printf 'default_md = sha256\ncrl_extensions = crl_delta_ext\ndefault_crl_days = 2\n'
    # The CDP and the Freshest CRL as AD CS writes them: one distribution point, the LDAP location
    # first (the base CRL's attribute, or the delta's), then HTTP.
    distribution_point() { # section CA-index attribute file-suffix
        printf '[ %s ]\nfullname = @%s_names\n[ %s_names ]\n' "$1" "$1" "$1"
        printf 'URI.1 = ldap:///CN=%s,CN=pki,CN=CDP,CN=Public%%20Key%%20Services,CN=Services,CN=Configuration,%s' \
            "${lab_ca_names[$2]// /%20}" "$base_dn"
        printf '?%s?base?objectClass=cRLDistributionPoint\nURI.2 = %s/%s%s.crl\n' \
            "$3" "$LAB_CRL_BASE_URL" "${lab_ca_names[$2]// /%20}" "$4"
    }
    distribution_point freshest_issuing 1 deltaRevocationList +
    distribution_point cdp_root 0 certificateRevocationList ""
    distribution_point cdp_issuing 1 certificateRevocationList ""
    cat <<'CNF'
[ crl_ext ]
authorityKeyIdentifier = keyid:always
[ crl_base_ext ]
authorityKeyIdentifier = keyid:always
freshestCRL = freshest_issuing
[ crl_delta_ext ]
authorityKeyIdentifier = keyid:always
# Delta CRL Indicator: the number of the base CRL it completes (openssl has no name for it).
2.5.29.27 = critical,ASN1:INTEGER:$ENV::LAB_BASE_CRL_NUMBER
[ root_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ issuing_ca ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = cdp_root
[ leaf ]
subjectAltName = $ENV::LAB_CERT_SAN
basicConstraints = critical,CA:FALSE
keyUsage = critical,$ENV::LAB_CERT_USAGE
extendedKeyUsage = $ENV::LAB_CERT_EKU
authorityKeyIdentifier = keyid:always
crlDistributionPoints = cdp_issuing
freshestCRL = freshest_issuing
CNF
}

lab_openssl() { # what openssl-args…: fails the start with the log's tail
    local what="$1"; shift
    openssl "$@" >>"$LAB_LOG_DIR/pki.log" 2>&1 || { tail -n 5 "$LAB_LOG_DIR/pki.log" >&2; die "$what failed (see $LAB_LOG_DIR/pki.log)"; }
}

lab_certificate() { # file subject-CN extensions-section issuer-file|self [openssl args…]: a P-256 key and its certificate
    local d="$LAB_PKI_DIR" file="$1" cn="$2" section="$3" issuer="$4" ca=()
    shift 4
    [ "$issuer" = self ] && ca=(-x509) || ca=(-CA "$d/$issuer.pem" -CAkey "$d/$issuer.key")
    lab_openssl "issuing $file" req -config "$d/openssl.cnf" -extensions "$section" -new -newkey ec \
        -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/$file.key" -out "$d/$file.pem" \
        -days "$([ "$issuer" = self ] && echo 7300 || echo 825)" -subj "/O=easgate lab/CN=$cn" "${ca[@]}" "$@"
}

# Each lab user's objectSid as "name SID" lines, read from the provisioned directory (offline).
lab_user_sids() {
    ldbsearch -H "$LAB_SAMBA_DIR/private/sam.ldb" -b "CN=Users,DC=${LAB_DNS_DOMAIN//./,DC=}" -s one \
        "(objectClass=user)" sAMAccountName objectSid 2>>"$LAB_LOG_DIR/pki.log" |
        awk '/^objectSid:/ {sid=$2} /^sAMAccountName:/ {name=$2}
             /^$/ {if (name != "" && sid != "") print name, sid; name = sid = ""}
             END {if (name != "" && sid != "") print name, sid}'
}

lab_der() { # tag content-hex -> DER hex (short lengths: the SID extension stays under 128 bytes)
    local length=$((${#2} / 2))
    [ "$length" -lt 128 ] || die "lab_der: $length bytes need a long-form length"
    printf '%s%02x%s' "$1" "$length" "$2"
}

# The SID extension AD CS has added since the May 2022 updates (KB5014754, szOID_NTDS_CA_SECURITY_EXT
# 1.3.6.1.4.1.311.25.2): an otherName szOID_NTDS_OBJECTSID (…25.2.1) holding the SID's text.
lab_sid_extension() { # SID -> an -addext value
    local text other
    text=$(printf '%s' "$1" | od -An -tx1 | tr -d ' \n')
    other=$(lab_der a0 "060a2b060104018237190201$(lab_der a0 "$(lab_der 04 "$text")")")
    printf '1.3.6.1.4.1.311.25.2=DER:%s' "$(lab_der 30 "$other" | sed 's/../&:/g; s/:$//')"
}

make_lab_pki() {
    local d="$LAB_PKI_DIR" u
    # The configuration names these; only leaves set their own.
    export LAB_CERT_SAN=DNS:unused LAB_CERT_USAGE=digitalSignature LAB_CERT_EKU=clientAuth LAB_BASE_CRL_NUMBER=0
    PKI_RENEWED=0  # start.sh restarts the web servers when their certificates were made anew
    if [ ! -s "$d/root-ca.key" ] || [ ! -s "$d/issuing-ca.key" ] || [ "$(cat "$d/layout" 2>/dev/null)" != "$lab_pki_layout" ]; then
        PKI_RENEWED=1
        rm -rf "$d" && mkdir -p "$d/clients" "$d/CertEnroll"
        : >"$d/root-index.txt"; : >"$d/issuing-index.txt"; : >"$d/issuing-base-index.txt"
        echo 1000 >"$d/root-crlnumber"; echo 1000 >"$d/issuing-crlnumber"
        lab_openssl_config >"$d/openssl.cnf"
        echo "$lab_pki_layout" >"$d/layout"
        lab_certificate root-ca "${lab_ca_names[0]}" root_ca self
        lab_certificate issuing-ca "${lab_ca_names[1]}" issuing_ca root-ca
        cat "$d/issuing-ca.pem" "$d/root-ca.pem" >"$d/ca.pem"
    fi
    server_cert() { # name host ip [more SAN entries]
        [ -s "$d/$1.pem" ] && return 0
        PKI_RENEWED=1
        LAB_CERT_SAN="DNS:$2,IP:$3${4:+,$4}" LAB_CERT_USAGE=digitalSignature,keyEncipherment LAB_CERT_EKU=serverAuth \
            lab_certificate "$1" "$2" leaf issuing-ca
        cat "$d/issuing-ca.pem" >>"$d/$1.pem"  # servers send their issuing CA along, as IIS does
    }
    server_cert mail "$LAB_MAIL_HOST" "$LAB_MAIL_IP"
    server_cert gateway "$LAB_GW_HOST" "$LAB_GW_IP"
    # The DCs' LDAPS certificates, as they auto-enrol them from AD CS: the DC's name and the domain's.
    server_cert dc1 "$LAB_DC_HOST" "$LAB_DC_IP" "DNS:$LAB_DNS_DOMAIN"
    server_cert dc2 "$LAB_DC2_HOST" "$LAB_DC2_IP" "DNS:$LAB_DNS_DOMAIN"
    # Device certificates as an AD CS user template builds them from AD: subject CN=<user>, SAN email
    # + UPN (msUPN otherName), Client Authentication, the user's SID. A domain provisioned anew has
    # new SIDs: its users get new certificates.
    local -A sids=()
    local name sid
    while read -r name sid; do sids[$name]=$sid; done < <(lab_user_sids)
    [ -n "${sids[alice]:-}" ] || die "reading the users' SIDs from $LAB_SAMBA_DIR/private/sam.ldb failed (see $LAB_LOG_DIR/pki.log)"
    if [ "$(cat "$d/clients/domain-sid" 2>/dev/null)" != "${sids[alice]%-*}" ]; then
        rm -f "$d"/clients/*
        echo "${sids[alice]%-*}" >"$d/clients/domain-sid"
    fi
    device_cert() { # file user
        [ -s "$d/clients/$1.pem" ] && return 0
        [ -n "${sids[$2]:-}" ] || die "no account $2 in the directory for its device certificate"
        LAB_CERT_SAN="email:$2@$LAB_DNS_DOMAIN,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:$2@$LAB_DNS_DOMAIN" \
            lab_certificate "clients/$1" "$2" leaf issuing-ca -addext "$(lab_sid_extension "${sids[$2]}")"
    }
    for u in "${LAB_USERS[@]}"; do device_cert "$u" "$u"; done
    revoke() { # file what
        lab_openssl "revoking $2" ca -config "$d/openssl.cnf" -name issuing -cert "$d/issuing-ca.pem" \
            -keyfile "$d/issuing-ca.key" -revoke "$d/clients/$1.pem" -crl_reason keyCompromise
    }
    if [ ! -s "$d/clients/alice-lost.pem" ]; then
        device_cert alice-lost alice
        revoke alice-lost "alice's lost phone"
        cp "$d/issuing-index.txt" "$d/issuing-base-index.txt"  # the base CRL is published since
    fi
    if [ ! -s "$d/clients/alice-stolen.pem" ]; then
        device_cert alice-stolen alice
        revoke alice-stolen "alice's stolen phone (after the base CRL)"
    fi
    # Fresh CRLs on every start, so that a lab kept for weeks never serves an expired one.
    lab_openssl "publishing the root CA's CRL" ca -config "$d/openssl.cnf" -name root -gencrl \
        -cert "$d/root-ca.pem" -keyfile "$d/root-ca.key" -out "$d/CertEnroll/${lab_ca_names[0]}.crl"
    LAB_BASE_CRL_NUMBER=0x$(cat "$d/issuing-crlnumber")
    lab_openssl "publishing the issuing CA's base CRL" ca -config "$d/openssl.cnf" -name issuing_base -gencrl \
        -cert "$d/issuing-ca.pem" -keyfile "$d/issuing-ca.key" -out "$d/CertEnroll/${lab_ca_names[1]}.crl"
    lab_openssl "publishing the issuing CA's delta CRL" ca -config "$d/openssl.cnf" -name issuing -gencrl \
        -cert "$d/issuing-ca.pem" -keyfile "$d/issuing-ca.key" -out "$d/CertEnroll/${lab_ca_names[1]}+.crl"
    chmod 755 "$d" "$d/clients" "$d/CertEnroll"
    chmod 644 "$d"/*.pem "$d"/clients/*.pem "$d"/CertEnroll/*.crl
    chmod 600 "$d"/*.key "$d"/clients/*.key
}

# ldapadd|ldapmodify (LDIF on stdin) as the domain's Administrator, over LDAPS to dc1.
admin_ldap() {
    LDAPTLS_CACERT="$LAB_PKI_DIR/ca.pem" "$1" -x -H "ldaps://$LAB_DC_HOST" \
        -D "CN=Administrator,CN=Users,DC=${LAB_DNS_DOMAIN//./,DC=}" -w "$LAB_ADMIN_PASSWORD" \
        >>"$LAB_LOG_DIR/pki.log" 2>&1
}

# The issuing CA in the forest's NTAuth store, as an enterprise CA publishes itself (certutil
# -dspublish -f <CA>.cer NTAuthCA for another): the CAs Windows trusts to issue logon
# certificates, which `easgate doctor` compares with trusted_ca_file. The root is not there, as in
# AD CS. Over LDAPS as Administrator, into dc1; afresh on every start. Needs dc1 running.
publish_ntauth_in_directory() {
    local d="$LAB_PKI_DIR" base_dn="DC=${LAB_DNS_DOMAIN//./,DC=}" rc=0 ca64
    local dn="CN=NTAuthCertificates,CN=Public Key Services,CN=Services,CN=Configuration,$base_dn"
    ca64=$(openssl x509 -in "$d/issuing-ca.pem" -outform DER | base64 -w0)
    # certificationAuthority must have both revocation lists; AD CS puts a single zero byte in each.
    printf 'dn: %s\nobjectClass: certificationAuthority\ncACertificate:: %s\nauthorityRevocationList:: AA==\ncertificateRevocationList:: AA==\n\n' \
        "$dn" "$ca64" | admin_ldap ldapadd || rc=$?
    if [ "$rc" = 68 ]; then  # already there: this start's issuing CA replaces the old one
        rc=0
        printf 'dn: %s\nchangetype: modify\nreplace: cACertificate\ncACertificate:: %s\n\n' "$dn" "$ca64" \
            | admin_ldap ldapmodify || rc=$?
    fi
    [ "$rc" = 0 ] || die "publishing the issuing CA in NTAuth failed (log: $LAB_LOG_DIR/pki.log)"
}

# The CRLs published to Active Directory as well, as AD CS does at the ldap:/// location of its CDP
# ("Publish CRLs to this location"; certutil -dspublish for an offline root): one
# cRLDistributionPoint object per CA under CN=<CA host>,CN=CDP,CN=Public Key Services,… in the
# configuration partition, the base CRL in certificateRevocationList and the delta CRL in
# deltaRevocationList. Over LDAPS as the domain's Administrator, into dc1 (dc2 gets them by
# replication); afresh on every start, like the files. Needs dc1 running.
publish_crls_in_directory() {
    local d="$LAB_PKI_DIR" base_dn="DC=${LAB_DNS_DOMAIN//./,DC=}" i dn ldif rc
    local cdp="CN=pki,CN=CDP,CN=Public Key Services,CN=Services,CN=Configuration,$base_dn"
    der64() { openssl crl -in "$1" -outform DER | base64 -w0; }
    printf 'dn: %s\nobjectClass: container\n\n' "$cdp" | admin_ldap ldapadd || rc=$?
    [ "${rc:-0}" = 0 ] || [ "${rc:-0}" = 68 ] || die "creating $cdp in the directory failed (log: $LAB_LOG_DIR/pki.log)"
    for i in 0 1; do
        dn="CN=${lab_ca_names[$i]},$cdp"
        ldif="certificateRevocationList:: $(der64 "$d/CertEnroll/${lab_ca_names[$i]}.crl")"
        [ "$i" = 1 ] && ldif+=$'\n'"deltaRevocationList:: $(der64 "$d/CertEnroll/${lab_ca_names[$i]}+.crl")"
        rc=0
        printf 'dn: %s\nobjectClass: cRLDistributionPoint\n%s\n\n' "$dn" "$ldif" | admin_ldap ldapadd || rc=$?
        if [ "$rc" = 68 ]; then  # already there: the new CRLs replace the old ones
            rc=0
            printf 'dn: %s\nchangetype: modify\nreplace: certificateRevocationList\n%s\n\n' "$dn" \
                "${ldif//$'\n'deltaRevocationList/$'\n'-$'\n'replace: deltaRevocationList$'\n'deltaRevocationList}" \
                | admin_ldap ldapmodify || rc=$?
        fi
        [ "$rc" = 0 ] || die "publishing the CRL of ${lab_ca_names[$i]} in the directory failed (log: $LAB_LOG_DIR/pki.log)"
    done
}
