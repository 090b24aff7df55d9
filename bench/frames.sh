#!/usr/bin/env bash
# Coroutine frame sizes, read off the binary: each easgate coroutine's ramp passes its frame's size
# to Asio's frame allocator. Asio recycles a frame of up to 1,020 bytes (255 chunks of 4) through a
# per-thread cache; a larger one is malloc'd and freed on every call, above glibc's tcache, which a
# per-request coroutine pays on every request (docs/performance.md, Session 33).
#   bash bench/frames.sh [BINARY] [PATTERN]   (default build/bin/easgate; PATTERN filters the names)
# Lists the frames largest first, marking those Asio does not recycle.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build/bin/easgate}
pattern=${2:-easgate::}
objdump -d -C --no-show-raw-insn "$binary" | python3 -c '
import re, sys
pattern, recycled = sys.argv[1], 1020
function, size, frames = None, None, {}
for line in sys.stdin:
    start = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
    if start:
        function, size = start.group(1), None
        continue
    if function is None or pattern not in function or "[clone" in function:
        continue
    moved = re.search(r"mov +\$0x([0-9a-f]+),%esi", line)
    if moved:
        size = int(moved.group(1), 16)
    elif size is not None and "call" in line and "awaitable_frame_tag" in line:
        frames[function] = size
        function = None
for name, size in sorted(frames.items(), key=lambda item: -item[1]):
    mark = "not recycled" if size > recycled else ""
    shown = name if len(name) <= 150 else name[:147] + "..."
    print(f"{size:6d} {mark:12s} {shown}")
print(f"{len(frames)} coroutines, {sum(s > recycled for s in frames.values())} above {recycled} bytes",
      file=sys.stderr)
' "$pattern"
