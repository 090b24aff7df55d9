#!/usr/bin/env bash
# Writes the fuzzers' seed corpora into tests/fuzz/corpus/<target>/. Run once; the output is checked
# in (certificates get fresh keys on every run, so rerunning changes every .der file). Each seed is
# a realistic input, or one of the shapes an attacker would start from.
set -euo pipefail
cd "$(dirname "$0")"
corpus=corpus
rm -rf "$corpus"
mkdir -p "$corpus"/{fuzz_header_rewrite,fuzz_long_poll,fuzz_eas_request,fuzz_certificate_identity,fuzz_proxy_header,fuzz_kerberos_error_token}

# fuzz_header_rewrite: option byte (bit 0 strip Authorization, bit 1 body read ahead, bits 2-5 device
# address and upstream), then the request as a device sends it.
request() {  # name option-byte request-with-\r\n-escapes
  printf "\\x$2$3" >"$corpus/fuzz_header_rewrite/$1"
}
eas='/Microsoft-Server-ActiveSync?Cmd'
device='User=alice&DeviceId=ApplF2LXK1ABC&DeviceType=iPhone'
common='Host: eas.example.com\r\nUser-Agent: Apple-iPhone14C2/2008.81\r\nMS-ASProtocolVersion: 16.1\r\nX-MS-PolicyKey: 1307927441\r\nContent-Type: application/vnd.ms-sync.wbxml\r\n'
request ping 03 "POST $eas=Ping&$device HTTP/1.1\r\n${common}Authorization: Basic YWxpY2U6cHc=\r\nConnection: keep-alive\r\nContent-Length: 14\r\n\r\n\x03\x01\x6a\x00\x00\x0d\x45\x48\x03\x39\x30\x00\x01\x01"
request options 00 "OPTIONS /Microsoft-Server-ActiveSync HTTP/1.1\r\nHost: eas.example.com\r\nUser-Agent: Outlook-iOS-Android/1.0\r\n\r\n"
request sync-chunked 15 "POST $eas=Sync&$device HTTP/1.1\r\n${common}Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
request sendmail-streamed 25 "POST $eas=SendMail&$device&SaveInSent=T HTTP/1.1\r\n${common}Content-Length: 70000\r\n\r\n"
request autodiscover 31 "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: autodiscover.example.com\r\nContent-Type: text/xml\r\nContent-Length: 4\r\n\r\n<x/>"
request http10-no-host 02 "POST $eas=Ping&$device HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi"
request connection-content-length 00 "POST $eas=Sync&$device HTTP/1.1\r\n${common}Connection: Content-Length\r\nContent-Length: 5\r\n\r\n"
request connection-lists 01 "POST $eas=Sync&$device HTTP/1.1\r\n${common}Connection: close, X-Private\r\nConnection: keep-alive, Upgrade, Authorization\r\nUpgrade: h2c\r\nX-Private: 1\r\nAuthorization: Negotiate YIIG\r\nContent-Length: 0\r\n\r\n"
# keep-alive as Beast's parser reads it: Proxy-Connection counts, a close in any Connection field
request proxy-connection-http10 00 "GET /Microsoft-Server-ActiveSync?Cmd=Options HTTP/1.0\r\nHost: eas.example.com\r\nProxy-Connection: keep-alive\r\n\r\n"
request connection-close-second 00 "POST $eas=Sync&$device HTTP/1.1\r\n${common}Connection: keep-alive\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
request duplicate-content-length 02 "POST $eas=Sync&$device HTTP/1.1\r\n${common}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
request te-and-content-length 00 "POST $eas=Sync&$device HTTP/1.1\r\n${common}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
request te-list 00 "POST $eas=Sync&$device HTTP/1.1\r\n${common}Transfer-Encoding: gzip, chunked\r\n\r\n"
request obs-fold 00 "POST $eas=Sync&$device HTTP/1.1\r\n${common}X-Note: a\r\n Content-Length: 5\r\nContent-Length: 0\r\n\r\n"
request bare-lf 00 "POST $eas=Sync&$device HTTP/1.1\r\n${common}Content-Length: 0\nTransfer-Encoding: chunked\r\n\r\n"
request trailer 09 "POST $eas=Sync&$device HTTP/1.1\r\n${common}TE: trailers\r\nTrailer: Authorization, X-Checksum\r\nTransfer-Encoding: chunked\r\n\r\n"
request spoofed-forwarding 3d "GET /Microsoft-Server-ActiveSync HTTP/1.1\r\nHost: eas.example.com\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Host: mail.internal\r\nX-Forwarded-Proto: http\r\nX-Real-IP: 10.0.0.1\r\nForwarded: for=10.0.0.1;proto=http\r\nProxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n"
request absolute-form 00 "POST http://mail.internal$eas=Ping&$device HTTP/1.1\r\nHost: mail.internal\r\nContent-Length: 0\r\n\r\n"

# fuzz_long_poll: command byte (0 Ping, 1 Sync, 2 FolderSync, 3 "ping"), then the WBXML body
# (MS-ASWBXML: AirSync code page 0, Ping code page 13).
wbxml() {  # name command-byte body-hex
  local hex=${3// /}
  printf "\\x$2$(sed 's/\([0-9a-f][0-9a-f]\)/\\x\1/g' <<<"$hex")" >"$corpus/fuzz_long_poll/$1"
}
header=03016a00
wbxml ping-90 00 "${header}000d45480339300001 01"
wbxml ping-folders 00 "${header}000d4548033438300001494a4b03350001 4c03456d61696c00010101 01"
wbxml ping-empty 00 ""
wbxml ping-opaque 00 "${header}000d4548c30331323001 01"
wbxml ping-entity 00 "${header}000d45480239c3013001 01"
wbxml ping-string-table 00 "030000 6a03610062 000d45480339300001 01"
wbxml sync-wait 01 "${header}455c4f4b0331363831353233000152033500010101 640335000101"
wbxml sync-heartbeat 01 "${header}45 690336303000 01 01"
wbxml sync-both 01 "${header}45 64033500 01 69033330300001 01"
wbxml foldersync 02 "${header}0007 56 52033000 01 01"

# fuzz_eas_request: selector byte (bits 0-1 method, 2-3 command for the body), then
# "target\nMS-ASProtocolVersion\nX-MS-PolicyKey\nUser-Agent\nbody".
eas_request() {  # name selector text
  printf "\\x$2%s" "$3" >"$corpus/fuzz_eas_request/$1"
}
eas_request ping-plain 0c "$eas=Ping&$device"$'\n16.1\n1307927441\nApple-iPhone14C2/2008.81\n'
eas_request options 01 $'/Microsoft-Server-ActiveSync\n\n\nOutlook-iOS-Android/1.0\n'
# Base64 query (MS-ASHTTP 2.2.1.1.1.1): protocol 14.1, Sync, locale en-us, DeviceId, PolicyKey, DeviceType.
eas_request sync-base64 0c $'/Microsoft-Server-ActiveSync?jQAJBBAxMjM0NTY3ODkwQUJDREVGBAAAAAAGaVBob25l\n\n\nAndroid/13\n'
eas_request autodiscover 02 $'/autodiscover/autodiscover.xml\n\n\n\n'
printf '\x00%s\n16.1\n\nDevice\n\x03\x01\x6a\x00\x00\x0d\x45\x48\x03\x39\x30\x00\x01\x01' \
  "$eas=Ping&$device" >"$corpus/fuzz_eas_request/ping-with-body"

# fuzz_kerberos_error_token: the token of a backend's 401 (the target base64s it): MIT's KRB-ERROR for
# a key it lacks inside SPNEGO (as the lab's Apache sent it), the error token alone, Windows' framing
# with KRB_AP_ERR_MODIFIED, and SPNEGO's accept-completed, which holds none.
token() {  # name hex
  printf '%s' "$2" | xxd -r -p >"$corpus/fuzz_kerberos_error_token/$1"
}
mit_error='607006092a864886f71201020203007e61305fa003020105a10302011ea411180f32303236313230373230353430395aa5050203009b61a60302011fa90e1b0c4558414d504c452e54455354aa243022a003020103a11b30191b04485454501b116d61696c2e6578616d706c652e74657374'
token mit-bad-key-spnego "a17d307ba0030a0102a2740472${mit_error}"
token bare-error-token "$mit_error"
token windows-modified "$(printf '%s' "a17d307ba0030a0102a2740472${mit_error}" | sed 's/2a864886f712/2a864882f712/; s/a60302011f/a603020129/')"
token spnego-accept-completed a1143012a0030a0100a10b06092a864886f712010202

# fuzz_proxy_header: what a connection starts with on a proxy_protocol listener: HAProxy's v1 and
# v2 headers (with the TLS ClientHello's first bytes after them), LOCAL, TLVs, and broken ones.
proxy() {  # name bytes-with-\x-escapes
  printf "$2" >"$corpus/fuzz_proxy_header/$1"
}
sig='\r\n\r\n\x00\r\nQUIT\n'
proxy v1-tcp4 'PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n\x16\x03\x01'
proxy v1-tcp6 'PROXY TCP6 2001:db8::7 2001:db8::1 4711 443\r\n'
proxy v1-unknown 'PROXY UNKNOWN\r\n'
proxy v1-bad-port 'PROXY TCP4 203.0.113.7 192.0.2.1 65536 443\r\n'
proxy v1-mixed 'PROXY TCP4 2001:db8::7 192.0.2.1 1 443\r\n'
proxy v2-tcp4 "${sig}"'\x21\x11\x00\x0c\xcb\x00\x71\x07\xc0\x00\x02\x01\xc8\x22\x01\xbb\x16\x03\x01'
proxy v2-tcp6 "${sig}"'\x21\x21\x00\x24\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x12\x67\x01\xbb'
proxy v2-local "${sig}"'\x20\x00\x00\x00'
proxy v2-tlvs "${sig}"'\x21\x11\x00\x17\xcb\x00\x71\x07\xc0\x00\x02\x01\xc8\x22\x01\xbb\x01\x00\x02h2\x04\x00\x03\x00\x00\x00'
proxy v2-unix "${sig}"'\x21\x31\x00\x04\x00\x00\x00\x00'
proxy v2-too-long "${sig}"'\x21\x11\xff\xff'
proxy tls-client-hello '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'

# fuzz_certificate_identity: device certificates shaped like those AD CS, Intune (SCEP/PKCS) and
# Workspace ONE issue, from a throwaway CA. Signatures don't matter to identity extraction.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/extensions.cnf" <<'EOF'
[adcs_user]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth, emailProtection, 1.3.6.1.4.1.311.10.3.4
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice@corp.example.com, email:alice@example.com
# szOID_NTDS_CA_SECURITY_EXT: GeneralNames { otherName szOID_NTDS_OBJECTSID [0] OCTET STRING SID }
1.3.6.1.4.1.311.25.2 = ASN1:SEQUENCE:sid_names
# Certificate template information, as AD CS writes it.
1.3.6.1.4.1.311.21.7 = ASN1:SEQUENCE:template
crlDistributionPoints = URI:http://pki.corp.example.com/CorpCA.crl
authorityInfoAccess = caIssuers;URI:http://pki.corp.example.com/CorpCA.crt

[sid_names]
name = IMPLICIT:0C,SEQUENCE:sid_other_name
[sid_other_name]
type = OID:1.3.6.1.4.1.311.25.2.1
value = EXPLICIT:0C,OCTETSTRING:S-1-5-21-3623811015-3361044348-30300820-1013
[template]
id = OID:1.3.6.1.4.1.311.21.8.1234567.7654321.1.2.3.4.5
major = INTEGER:100
minor = INTEGER:4

[intune_email]
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
subjectAltName = email:bob.jones@example.com

[ws1_upn]
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:b.jones@corp.example.com, DNS:bob-iphone.corp.example.com

[unicode_upn]
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
subjectAltName = @unicode_names
[unicode_names]
# In a section, so that the comma after FORMAT (the value is UTF-8 already) does not split the list.
otherName.1 = 1.3.6.1.4.1.311.20.2.3;FORMAT:UTF8,UTF8:zoë.müller@corp.example.com
email.1 = zoe@example.com
email.2 = zoe.mueller@example.com

[no_identity]
extendedKeyUsage = serverAuth
subjectAltName = DNS:mail.example.com, IP:192.0.2.7
EOF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" -out "$work/ca.pem" \
  -subj "/DC=com/DC=example/DC=corp/CN=Corp Issuing CA" -days 3650 2>/dev/null
certificate() {  # name key-algorithm subject extension-section
  local key_options=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
  [ "$2" = rsa ] && key_options=(-newkey rsa:2048)
  openssl req -new -utf8 "${key_options[@]}" -nodes -keyout "$work/$1.key" -subj "$3" -out "$work/$1.csr" 2>/dev/null
  openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -set_serial "0x$(openssl rand -hex 12)" \
    -days 365 -extfile "$work/extensions.cnf" -extensions "$4" -outform DER -out "$corpus/fuzz_certificate_identity/$1.der" 2>"$work/log" || { cat "$work/log"; exit 1; }
}
certificate adcs-upn-email-sid ec \
  "/DC=com/DC=example/DC=corp/OU=Users/CN=Alice Example" adcs_user
certificate intune-email rsa "/CN=bob.jones@example.com" intune_email
certificate ws1-upn-dns ec "/O=Example/OU=Devices/CN=b.jones" ws1_upn
certificate unicode-upn ec "/CN=Zoë Müller/O=Example" unicode_upn
certificate no-identity ec "/CN=mail.example.com" no_identity
