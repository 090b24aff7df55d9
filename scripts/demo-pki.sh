#!/usr/bin/env bash
# Issues the demo's certificates with the openssl command line, the way an internal CA would:
#   device-ca:  the internal CA devices are enrolled from (trusted_ca_file), with its CRL
#   alice:      a device certificate: SAN otherName UPN (1.3.6.1.4.1.311.20.2.3) + email, EKU clientAuth
#   rogue:      the same from a CA easgate does not trust
#   gateway-ca: issues easgate's and the Exchange stand-in's server certificates
# usage: demo-pki.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
quiet() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; }

make_ca() { # name subject
  quiet openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -keyout "$1.key" -out "$1.pem" -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
issue() { # ca name subject extensions...
  local ca=$1 name=$2 subject=$3
  shift 3
  local args=()
  for ext in "$@"; do args+=(-addext "$ext"); done
  quiet openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
    -keyout "$name.key" -out "$name.pem" -subj "$subject" -CA "$ca.pem" -CAkey "$ca.key" \
    -addext "basicConstraints=critical,CA:FALSE" "${args[@]}"
  chmod 600 "$name.key"
}

make_ca device-ca "/O=Example Corp/CN=Example Corp Device Issuing CA"
make_ca rogue-ca "/O=Somebody Else/CN=Rogue CA"
make_ca gateway-ca "/O=Example Corp/CN=Example Corp Server CA"
device_exts=("keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth")
issue device-ca alice "/O=Example Corp/CN=alice" "${device_exts[@]}" \
  "subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice@example.test,email:alice@example.test"
issue rogue-ca rogue "/O=Somebody Else/CN=alice" "${device_exts[@]}" \
  "subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice@example.test"
server_exts=("keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1")
issue gateway-ca gateway "/O=Example Corp/CN=localhost" "${server_exts[@]}"
issue gateway-ca exchange "/O=Example Corp/CN=localhost" "${server_exts[@]}"
cp gateway-ca.pem server-ca.pem

# An (empty) CRL for the device CA, so the demo runs with revocation checking on.
cat >ca.cnf <<CNF
[ca]
default_ca = demo
[demo]
database = index.txt
crlnumber = crlnumber
default_md = sha256
default_crl_days = 30
CNF
: >index.txt
echo 01 >crlnumber
quiet openssl ca -config ca.cnf -gencrl -keyfile device-ca.key -cert device-ca.pem -out device-ca.crl
echo "demo PKI ready in $dir"
