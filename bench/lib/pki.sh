# shellcheck shell=bash
# make_bench_pki DIR: the benchmark's PKI, laid out as AD CS deployments are: a root CA, an issuing
# CA below it (its key is what easgate-loadgen mints the devices' certificates from) and a server
# certificate for 127.0.0.1 / localhost used by easgate, nginx and the upstream alike.
#   DIR/root.pem, DIR/issuing.pem + .key, DIR/device-cas.pem (issuing + root: what the proxies
#   trust), DIR/server.pem (with its chain) + .key, DIR/server-ca.pem
make_bench_pki() {
  local dir=$1
  mkdir -p "$dir"
  (
    cd "$dir" || exit 1
    ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
    ec root
    openssl req -x509 -new -key root.key -subj "/CN=bench root CA" -days 30 -out root.pem \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    ec issuing
    openssl req -new -key issuing.key -subj "/CN=bench issuing CA" -out issuing.csr
    printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >ca.ext
    openssl x509 -req -in issuing.csr -CA root.pem -CAkey root.key -CAcreateserial -days 30 \
      -extfile ca.ext -out issuing.pem 2>/dev/null
    cat issuing.pem root.pem >device-cas.pem
    ec server
    openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA issuing.pem -CAkey issuing.key -CAcreateserial -days 30 \
      -extfile server.ext -out server-leaf.pem 2>/dev/null
    cat server-leaf.pem issuing.pem >server.pem
    cp root.pem server-ca.pem
    rm -f ./*.csr ./*.ext ./*.srl
  )
}
