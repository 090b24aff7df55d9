#!/usr/bin/env bash
# Take one of the lab's DCs down or bring it back, as an admin does when patching a DC: the failover
# tests (tests/lab_tests/gateway_dc_failover_test.cpp) run devices through easgate meanwhile.
#   stop    the DC shuts down: its ports refuse connections
#   freeze  the DC hangs (SIGSTOP): connections are accepted and never answered
#   start   the DC runs again (a frozen one is thawed; a stopped one is started by start.sh, which
#           also replicates what changed meanwhile)
#   sync    replicate between the DCs now (both running), e.g. after a test changed an account
#
# usage: dc.sh stop|freeze|start dc1|dc2 [LAB_DIR]
#        dc.sh sync [LAB_DIR]
set -euo pipefail
LAB_LOG_TAG="lab-dc"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [ "${1:-}" = sync ]; then
    lab_init_dir "${2:-}"
    export KRB5_CONFIG="$LAB_KRB5_CONF"
    replicate_dcs
    exit 0
fi
[ $# -ge 2 ] || die "usage: dc.sh stop|freeze|start dc1|dc2 [LAB_DIR], or dc.sh sync [LAB_DIR]"
action="$1" dc="$2"
lab_init_dir "${3:-}"
case "$dc" in
    dc1) name=samba ;;
    dc2) name=samba-dc2 ;;
    *) die "no DC '$dc' in the lab (dc1, dc2)" ;;
esac
pid_alive "$name" || [ "$action" = start ] || die "$dc is not running"
case "$action" in
    stop) stop_pid "$name" ;;
    freeze) kill -STOP -- "-$(cat "$(pid_file "$name")")"; log "$dc frozen" ;;
    start)
        if pid_alive "$name"; then
            case "$(ps -o stat= -p "$(cat "$(pid_file "$name")")")" in
                T*) kill -CONT -- "-$(cat "$(pid_file "$name")")"; log "$dc thawed" ;;
            esac
        fi
        bash "$LAB_SRC_DIR/start.sh" "$LAB_DIR" >/dev/null ;;
    *) die "unknown action '$action' (stop, freeze, start)" ;;
esac
