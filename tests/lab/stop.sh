#!/usr/bin/env bash
# Stop everything the easgate lab started, by the PIDs recorded in
# $LAB_DIR/pids/*.pid, all at once.  The provisioned domain, the
# keytabs, the PKI and the logs stay in $LAB_DIR for the next start.sh;
# pass --purge to delete $LAB_DIR as well.  The /etc/hosts lines stay (harmless,
# and start.sh would add them again).
#
# usage: stop.sh [--purge] [LAB_DIR]     (default $LAB_DIR, else /tmp/easgate-lab)
set -euo pipefail
LAB_LOG_TAG="lab-stop"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
if [ "${1:-}" = "--purge" ]; then purge=1; shift; fi
lab_init_dir "${1:-}"

if [ ! -d "$LAB_DIR" ]; then
    log "no lab at $LAB_DIR; nothing to stop"
    exit 0
fi

# Every service recorded, all at once: each takes about two seconds to go, and none needs another
# to stop (one by one, a stop took ten seconds of every test run).
if [ -d "$LAB_PID_DIR" ]; then
    stopping=()
    for f in "$LAB_PID_DIR"/*.pid; do
        [ -e "$f" ] || continue
        stop_pid "$(basename "$f" .pid)" &
        stopping+=("$!")
    done
    for pid in "${stopping[@]}"; do wait "$pid"; done
fi

if [ "$purge" = 1 ]; then
    case "$LAB_DIR" in
        /|/tmp|/root|/home|/work|/work/main|"$LAB_SRC_DIR"*) die "refusing to delete $LAB_DIR" ;;
    esac
    rm -rf "$LAB_DIR"
    log "removed $LAB_DIR"
fi
log "lab at $LAB_DIR stopped"
