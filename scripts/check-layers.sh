#!/usr/bin/env bash
# Fails when a file includes a header from a layer above its own. The layers are the arguments,
# lowest first (src/CMakeLists.txt passes its list, and the build runs this on every build); a
# file in src/<layer>/ or include/easgate/<layer>/ may include "easgate/<other>/…" only when
# <other> is its own layer or comes before it.
#   scripts/check-layers.sh common config … app
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A rank
position=0
for layer in "$@"; do rank[$layer]=$((position++)); done

failed=0
while IFS=: read -r file line text; do
    [[ $file =~ ^(src|include/easgate)/([^/]+)/ ]] || continue
    own=${BASH_REMATCH[2]}
    [[ $text =~ \"easgate/([^/]+)/ ]] || continue
    used=${BASH_REMATCH[1]}
    for layer in "$own" "$used"; do
        if [[ -z ${rank[$layer]+set} ]]; then
            echo "$file:$line: '$layer' is no layer: add its folder to the list in src/CMakeLists.txt" >&2
            failed=1
            continue 2
        fi
    done
    if ((rank[$used] > rank[$own])); then
        echo "$file:$line: $own includes $used, a layer above it" >&2
        failed=1
    fi
done < <(grep -rn '^#include "easgate/' src include)
exit "$failed"
