#!/usr/bin/env bash
# Lists C++ files over MAX_FILE lines (default 400) and functions over MAX_FUNCTION lines (default
# 80) under the given paths (default src include tests bench), one finding a line:
#   path lines                      a file over the limit
#   path:line name lines            a function over the limit (from its signature through its '}')
# Exits 1 when it found any, or a file whose braces it cannot match (said in a line of its own).
# A heuristic, not a parser: comments, strings and preprocessor lines are skipped, and a '{'
# directly in a namespace, class or the file opens a function body when the text before it holds a
# parameter list; everything up to the matching '}' (lambdas included) is the function's. Brace
# initialisers at that level are not functions.
#   scripts/check-size.sh [PATH...]      (paths relative to the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- src include tests bench
MAX_FILE=${MAX_FILE:-400} MAX_FUNCTION=${MAX_FUNCTION:-80} exec python3 - "$@" <<'PYTHON'
import os, re, sys

max_file = int(os.environ["MAX_FILE"])
max_function = int(os.environ["MAX_FUNCTION"])


def code_only(text):
    """The text with comments, string and character literals and preprocessor lines blanked, newlines kept."""
    out = []
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c == "#":
            # A directive runs to the first newline not escaped by a backslash.
            while i < n and not (text[i] == "\n" and text[i - 1] != "\\"):
                out.append("\n" if text[i] == "\n" else " ")
                i += 1
            continue
        if c == "\n":
            line_start = True
            out.append(c)
            i += 1
            continue
        if not c.isspace():
            line_start = False
        if text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
            continue
        raw = re.match(r"(?:u8|u|U|L)?R\"([^()\\\s]{0,16})\(", text[i:i + 24])
        if raw and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = text.find(")" + raw.group(1) + "\"", i + raw.end())
            end = n if end < 0 else end + len(raw.group(1)) + 2
            out.append("\"\"" + re.sub(r"[^\n]", " ", text[i + 2:end]))
            i = end
            continue
        if c == "'" and i > 0 and text[i - 1].isalnum():
            # A digit separator (1'000), unless the letters before it are a character prefix.
            word = re.search(r"[A-Za-z0-9_]+$", text[max(0, i - 8):i]).group(0)
            if word not in ("L", "u", "U", "u8"):
                out.append(" ")
                i += 1
                continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (min(j, n) - i - 1) + c)
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def strip_nested(head):
    """The head with the insides of (), [] and <> dropped, their brackets kept; operator names kept whole."""
    head = re.sub(r"\boperator\s*(\(\s*\)|[^\s(]+)", "operator_", head).replace("->", "  ")
    depth, kept = 0, []
    for c in head:
        if c in "([<":
            if depth == 0:
                kept.append(c)
            depth += 1
        elif c in ")]>":
            depth = max(0, depth - 1)
            if depth == 0:
                kept.append(c)
        elif depth == 0:
            kept.append(c)
    return "".join(kept)


scope_head = re.compile(r"^(template\s*<.*>\s*)?(namespace|class|struct|union|enum)\b|^extern\s*\"\"\s*$", re.S)
qualified_name = re.compile(r"(?:[A-Za-z_]\w*(?:<>)?::)*(?:operator_|~?[A-Za-z_]\w*)$")


def function_name(head):
    """The name of the function a head declares, or None when the head is no function signature."""
    flat = re.sub(r"\s*(::|<>|\(|\)|=)\s*", r"\1", re.sub(r"\s+", " ", strip_nested(head)))
    paren = flat.find("(")
    if paren < 0:
        return None
    before = flat[:paren]
    if "=" in before:
        # At namespace or class scope only a lambda has a body after "= ...(": name it by its variable.
        variable = re.search(r"(\w+) ?=[^=]*$", before)
        return variable.group(1) + " (lambda)" if "[" in before and variable else None
    name = qualified_name.search(before)
    if not name:
        return None
    if name.group(0).endswith("operator_"):
        spelled = re.search(r"operator\s*(\(\s*\)|[^\s(]+)", head).group(0)
        return name.group(0)[: -len("operator_")] + re.sub(r"\s+", " ", spelled)
    if re.fullmatch(r"[A-Z][A-Z0-9_]*", name.group(0)):
        # A test macro: its arguments say which test it is.
        arguments = re.search(re.escape(name.group(0)) + r"\s*(\([^()]*\))", head)
        return name.group(0) + (re.sub(r"\s+", " ", arguments.group(1)) if arguments else "")
    return name.group(0)


def functions(code):
    """(line, name, length) of every function body at namespace, class or file level."""
    found = []
    stack = []  # per open brace: "scope", "function", "init" (part of a head) or "other"
    head, head_line = "", None
    function_start = None
    line = 1
    for c in code:
        if c == "\n":
            line += 1
        in_scope = all(kind == "scope" for kind in stack)
        if in_scope:
            if c == "{":
                if scope_head.match(head.strip()):
                    stack.append("scope")
                elif head.count("(") != head.count(")") or (
                    re.search(r"\)[\w\s]*:[^:]", strip_nested(head)) and re.search(r"[\w>]\s*$", head)
                ):
                    # Inside parentheses (a default argument "= {}") or a member's brace initialiser in a
                    # constructor's init list: still part of the head.
                    stack.append("init")
                    head += c
                    continue
                elif name := function_name(head):
                    stack.append("function")
                    function_start = (head_line, name)
                else:
                    stack.append("other")
                head, head_line = "", None
                continue
            if c in ";}":
                if c == "}":
                    if not stack:
                        raise ValueError(f"line {line}: unmatched '}}'")
                    stack.pop()
                head, head_line = "", None
                continue
            if c == ":" and head.strip() in ("public", "protected", "private"):
                head, head_line = "", None
                continue
            if head_line is None and not c.isspace():
                head_line = line
            if head_line is not None:
                head += c
            continue
        if c == "{":
            stack.append("other")
        elif c == "}":
            kind = stack.pop()
            if kind == "init":
                head += c
            elif kind == "function":
                start, name = function_start
                found.append((start, name, line - start + 1))
    if stack:
        raise ValueError("a '{' is never closed")
    return found


def sources(roots):
    for root in roots:
        for directory, _, names in os.walk(root):
            for name in names:
                if name.endswith((".cpp", ".hpp", ".h", ".cc")):
                    yield os.path.join(directory, name)


status = 0
for path in sorted(sources(sys.argv[1:])):
    with open(path, encoding="utf-8", errors="replace") as source:
        text = source.read()
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    if lines > max_file:
        print(f"{path} {lines}")
        status = 1
    try:
        found = functions(code_only(text))
    except ValueError as error:
        print(f"{path}: cannot measure functions: {error}")
        status = 1
        continue
    for start, name, length in found:
        if length > max_function:
            print(f"{path}:{start} {name} {length}")
            status = 1
sys.exit(status)
PYTHON
