#!/usr/bin/env bash
# Prove from the Exchange stand-in's principal log that no TCP connection
# carried requests of two different users, and that every request whose query
# says `expect=<principal>` was authenticated as that principal.
#
# usage: check-connections.sh [--from-line N] [PRINCIPAL_LOG]
#   PRINCIPAL_LOG defaults to $LAB_MAIL_PRINCIPAL_LOG (from lab.env) or
#   $LAB_DIR/httpd/logs/principals.log; --from-line N ignores lines before N
#   (record `wc -l` before a test to check only that test's requests).
# Log lines: "<conn-key> <principal> <method> <port> <request-id> <query>".
# Prints one summary line; for each violating connection, its principals.
# Exit 0 = every connection saw at most one principal and no expect= differed;
# 1 = violation; 2 = usage.
set -euo pipefail
from=1
if [ "${1:-}" = "--from-line" ]; then
    [ -n "${2:-}" ] || { echo "usage: $0 [--from-line N] [LOG]" >&2; exit 2; }
    from="$2"; shift 2
fi
log="${1:-${LAB_MAIL_PRINCIPAL_LOG:-${LAB_DIR:-/tmp/easgate-lab}/httpd/logs/principals.log}}"
[ -r "$log" ] || { echo "check-connections: cannot read $log" >&2; exit 2; }

tail -n "+$from" "$log" | awk '
    $2 != "-" && $2 != "" {
        reqs++
        if (!(($1, $2) in seen)) { seen[$1, $2] = 1; n[$1]++; users[$1] = users[$1] " " $2 }
        conns[$1] = 1
        query = "&" $6 "&"
        if (match(query, /&expect=[^&]*&/)) {
            expected = substr(query, RSTART + 8, RLENGTH - 9)
            gsub(/%40/, "@", expected)
            if (expected != $2) { wrong++; printf "VIOLATION request %s on %s: expect=%s but authenticated as %s\n", $5, $1, expected, $2 }
        }
    }
    END {
        bad = 0; c = 0
        for (k in conns) { c++; if (n[k] > 1) { bad++; printf "VIOLATION connection %s carried:%s\n", k, users[k] } }
        printf "check-connections: %d authenticated requests on %d connections, %d connections with more than one principal, %d requests not of the expected principal\n", reqs, c, bad, wrong + 0
        exit bad > 0 || wrong > 0
    }'
