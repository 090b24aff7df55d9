#!/usr/bin/env bash
# The demo: a self-contained Active Directory domain on loopback (two Samba AD DCs for EXAMPLE.TEST),
# Apache + mod_auth_gssapi as a Kerberos-protected Exchange, and easgate in front of it. A phone's
# request with alice's device certificate goes through easgate, which looks alice up in the
# directory, obtains a Kerberos ticket for her by constrained delegation (S4U2Self + S4U2Proxy)
# and forwards the request with it: Exchange sees alice, and no password exists anywhere.
# Leaves everything running.
#   scripts/demo.sh          run the demo
#   scripts/demo.sh stop     stop easgate and the lab
set -euo pipefail
cd "$(dirname "$0")/.."
demo=/tmp/easgate-demo
export LAB_DIR=/tmp/easgate-lab  # config/easgate.demo.yaml points into it

stop_easgate() {
  if [ -f "$demo/easgate.pid" ]; then
    kill "$(cat "$demo/easgate.pid")" 2>/dev/null || true
    rm -f "$demo/easgate.pid"
  fi
}
if [ "${1:-}" = stop ]; then
  stop_easgate
  bash tests/lab/stop.sh >/dev/null
  echo "demo stopped (easgate and the lab)"
  exit 0
fi

scripts/install-deps.sh
tests/lab/install-packages.sh
mkdir -p "$demo"
echo "== building easgate (log: $demo/build.log)"
if ! { cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release &&
  cmake --build build --target easgate; } >"$demo/build.log" 2>&1; then
  grep -E -B2 -A8 'error|Error' "$demo/build.log" | head -60
  exit 1
fi

stop_easgate
echo "== starting the test domain EXAMPLE.TEST (Samba AD DCs on 127.0.0.10 and .14) and the Exchange stand-in"
echo "   (Apache + mod_auth_gssapi on 127.0.0.11, Kerberos required); log: $demo/lab.log"
if ! bash tests/lab/start.sh >"$demo/lab.log" 2>&1; then
  tail -n 30 "$demo/lab.log"
  exit 1
fi
grep -E '^\[lab-start\] phases' "$demo/lab.log" || true
# shellcheck disable=SC1091
. "$LAB_DIR/lab.env"

echo "== starting easgate on https://$LAB_GW_HOST:8443 with config/easgate.demo.yaml"
build/bin/easgate check-config --config config/easgate.demo.yaml >/dev/null
setsid build/bin/easgate run --config config/easgate.demo.yaml </dev/null >"$demo/easgate.log" 2>&1 &
echo $! >"$demo/easgate.pid"
for _ in $(seq 100); do
  grep -q "worker threads" "$demo/easgate.log" 2>/dev/null && break
  if ! kill -0 "$(cat "$demo/easgate.pid")" 2>/dev/null; then cat "$demo/easgate.log"; exit 1; fi
  sleep 0.1
done

device() {  # user query [curl options…]: an ActiveSync POST with the user's device certificate
  local user=$1 query=$2
  shift 2
  printf '\x03\x01\x6a\x00\x00\x07\x56\x52\x03\x30\x00\x01\x01' |
    curl --silent --show-error --cacert "$LAB_CA_FILE" \
      --cert "$LAB_CLIENT_CERT_DIR/$user.pem" --key "$LAB_CLIENT_CERT_DIR/$user.key" \
      -H "MS-ASProtocolVersion: 16.1" -H "Content-Type: application/vnd.ms-sync.wbxml" \
      -H "User-Agent: Apple-iPhone/1905.258" --data-binary @- "$@" \
      "https://$LAB_GW_HOST:8443/Microsoft-Server-ActiveSync?$query"
}

query="Cmd=FolderSync&User=alice&DeviceId=DEMO0001&DeviceType=iPhone"
echo "== a phone with alice's certificate (UPN alice@example.test, no password): POST ?$query"
device alice "$query" --fail-with-body | tee "$demo/response.json"
echo
seen=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["user"])' <"$demo/response.json")
echo "== the Kerberos-protected backend saw: authenticated as $seen via Kerberos delegation"
echo
echo "== carol's account is disabled in the directory; her phone is refused:"
device carol "Cmd=FolderSync&User=carol&DeviceId=DEMO0002&DeviceType=iPhone" \
  --output /dev/null --write-out 'HTTP %{http_code}\n'
echo
echo "== alice's lost phone: its certificate is on the issuing CA's CRL (from $LAB_ISSUING_CRL_URL);"
echo "   refused in the TLS handshake:"
device "$LAB_REVOKED_CLIENT" "Cmd=FolderSync&User=alice&DeviceId=DEMO0003&DeviceType=iPhone" \
  --output /dev/null 2>&1 || true
echo
echo "== alice's stolen phone, revoked since that CRL was published: only the issuing CA's delta CRL"
echo "   lists it (copied from CertEnroll with the base, and kept fresh from the directory, the first"
echo "   location the base CRL names for it, before $LAB_ISSUING_DELTA_CRL_URL); refused too:"
device "$LAB_DELTA_REVOKED_CLIENT" "Cmd=FolderSync&User=alice&DeviceId=DEMO0004&DeviceType=iPhone" \
  --output /dev/null 2>&1 || true
sleep 0.2
echo
echo "== what easgate logged"
cat "$demo/easgate.log"
echo
echo "easgate (pid $(cat "$demo/easgate.pid")) and the lab are still running; logs in $demo and $LAB_DIR/logs."
echo "Try: . $LAB_DIR/lab.env and curl with a certificate from \$LAB_CLIENT_CERT_DIR (alice, bob, user01…)."
echo "Stop everything with: scripts/demo.sh stop"
