#!/usr/bin/env bash
# The demo: builds easgate, issues a device certificate for alice from a demo CA, starts an
# Exchange stand-in and easgate in front of it on loopback, and sends an ActiveSync request
# through easgate with the device certificate, as a phone would. Leaves both running.
#   scripts/demo.sh          run the demo
#   scripts/demo.sh stop     stop what the demo started
set -euo pipefail
cd "$(dirname "$0")/.."
demo=/tmp/easgate-demo
pki=$demo/pki

stop_demo() {
  for name in easgate upstream; do
    if [ -f "$demo/$name.pid" ]; then
      kill "$(cat "$demo/$name.pid")" 2>/dev/null || true
      rm -f "$demo/$name.pid"
    fi
  done
}
if [ "${1:-}" = stop ]; then stop_demo; echo "demo stopped"; exit 0; fi

scripts/install-deps.sh
echo "== building easgate"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target easgate easgate-test-upstream

stop_demo
mkdir -p "$pki"
echo "== issuing the demo PKI in $pki"
scripts/demo-pki.sh "$pki"

echo "== starting the Exchange stand-in on https://localhost:8444 and easgate on https://localhost:8443"
build/bin/easgate-test-upstream --port 8444 --cert "$pki/exchange.pem" --key "$pki/exchange.key" \
  >"$demo/upstream.log" 2>&1 &
echo $! >"$demo/upstream.pid"
build/bin/easgate check-config --config config/easgate.demo.yaml >/dev/null
build/bin/easgate run --config config/easgate.demo.yaml >"$demo/easgate.log" 2>&1 &
echo $! >"$demo/easgate.pid"
for _ in $(seq 50); do
  grep -q "worker threads" "$demo/easgate.log" 2>/dev/null && break
  sleep 0.1
done

url="https://localhost:8443/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=alice&DeviceId=DEMO0001&DeviceType=iPhone"
echo "== a device request with alice's certificate: POST $url"
printf '\x03\x01\x6a\x00\x00\x07\x56\x52\x03\x30\x00\x01\x01' >"$demo/foldersync.wbxml"
curl --silent --show-error --fail-with-body --cacert "$pki/gateway-ca.pem" \
  --cert "$pki/alice.pem" --key "$pki/alice.key" \
  -H "MS-ASProtocolVersion: 16.1" -H "Content-Type: application/vnd.ms-sync.wbxml" \
  -H "User-Agent: Apple-iPhone/1905.258" --data-binary @"$demo/foldersync.wbxml" "$url" | tee "$demo/response.json"
echo
echo "== what easgate logged"
cat "$demo/easgate.log"
echo
echo "== a device whose certificate is not from the internal CA is refused at the TLS handshake:"
curl --silent --show-error --cacert "$pki/gateway-ca.pem" --cert "$pki/rogue.pem" --key "$pki/rogue.key" "$url" || true
sleep 0.2
grep "refused device certificate" "$demo/easgate.log" || true
echo
echo "easgate (pid $(cat "$demo/easgate.pid")) and the stand-in (pid $(cat "$demo/upstream.pid")) are still running;"
echo "logs in $demo. Stop them with: scripts/demo.sh stop"
