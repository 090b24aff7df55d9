#!/usr/bin/env bash
# Coroutine frame sizes, read off the binary. Asio recycles a frame of up to 1,020 bytes (255 chunks
# of 4) through a per-thread cache; a larger one is malloc'd and freed on every call, above glibc's
# per-thread cache too, which a per-request coroutine pays on every request (docs/performance.md,
# Session 33). A coroutine's ramp passes its frame's size to Asio's allocator, or, where GCC
# inlined the allocator, stores the frame's chunk count at the frame's end (`movb $chunks,size(%reg)`
# after `aligned_alloc`, next to the address of the coroutine's body, its `.actor` clone).
#   bash bench/frames.sh [BINARY] [PATTERN]   (default build/bin/easgate; PATTERN filters the names)
# Lists the frames largest first, marking those Asio does not recycle.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build/bin/easgate}
pattern=${2:-easgate::}
objdump -d -C --no-show-raw-insn "$binary" | python3 -c '
import re, sys
pattern, recycled = sys.argv[1], 1020
frames = {}

def frame_size(lines):
    esi = None
    for i, line in enumerate(lines):
        moved = re.search(r"mov +\$0x([0-9a-f]+),%esi", line)
        if moved:
            esi = int(moved.group(1), 16)
        elif esi is not None and "call" in line and "awaitable_frame_tag" in line:
            return esi
        elif "call" in line and "<aligned_alloc@plt>" in line:
            after = lines[i + 1:i + 14]
            if not any(".actor]" in later for later in after):
                continue
            for later in after:
                stored = re.search(r"movb +\$0x[0-9a-f]+,0x([0-9a-f]+)\(%r", later)
                if stored:
                    return int(stored.group(1), 16)
    return None

def finish(function, lines):
    if function and pattern in function and "[clone" not in function:
        size = frame_size(lines)
        if size is not None:
            frames[function] = size

function, lines = None, []
for line in sys.stdin:
    start = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
    if start:
        finish(function, lines)
        function, lines = start.group(1), []
    elif function is not None and len(lines) < 400:
        lines.append(line)
finish(function, lines)
for name, size in sorted(frames.items(), key=lambda item: -item[1]):
    mark = "not recycled" if size > recycled else ""
    shown = name if len(name) <= 150 else name[:147] + "..."
    print(f"{size:6d} {mark:12s} {shown}")
print(f"{len(frames)} coroutines, {sum(s > recycled for s in frames.values())} above {recycled} bytes",
      file=sys.stderr)
' "$pattern"
