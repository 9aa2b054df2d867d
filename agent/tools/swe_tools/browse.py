"""The commands that look: open, goto, scroll_up, scroll_down, search_file, search_dir, find_file."""

import fnmatch
import os

from .files import (
    OVERLAP,
    WINDOW,
    ToolError,
    check_line,
    clamp_first,
    current_file,
    fs_arg,
    parse_line_number,
    read_text,
    read_tool_state,
    resolve,
    show,
    show_line,
    split_lines,
)

MAX_MATCHES = 100
SKIP_DIRS = {".git", "__pycache__", "node_modules", ".tox", ".mypy_cache", ".pytest_cache", ".eggs"}


def cmd_open(args):
    if not 1 <= len(args) <= 2:
        raise ToolError("usage: open FILE [LINE]")
    path = resolve(args[0])
    lines = split_lines(read_text(path))
    first = 1
    if len(args) == 2:
        number = parse_line_number(args[1])
        check_line(number, len(lines), path)
        first = number - WINDOW // 2
    show(path, first, lines)


def cmd_goto(args):
    if len(args) != 1:
        raise ToolError("usage: goto LINE")
    path = current_file(read_tool_state())
    lines = split_lines(read_text(path))
    number = parse_line_number(args[0])
    check_line(number, len(lines), path)
    show(path, number - WINDOW // 2, lines)


def cmd_scroll(args, direction):
    if args:
        raise ToolError("usage: scroll_{} (no arguments)".format("down" if direction > 0 else "up"))
    state = read_tool_state()
    path = current_file(state)
    lines = split_lines(read_text(path))
    first = int(state.get("first", 1))
    target = clamp_first(first + direction * (WINDOW - OVERLAP), len(lines))
    if target == clamp_first(first, len(lines)):
        print("(already at the {} of the file)".format("bottom" if direction > 0 else "top"))
    show(path, target, lines)


def cmd_search_file(args):
    if not 1 <= len(args) <= 2:
        raise ToolError("usage: search_file TERM [FILE]")
    term = fs_arg(args[0])
    path = resolve(args[1]) if len(args) == 2 else current_file(read_tool_state())
    if not term:
        raise ToolError("the search term is empty")
    lines = split_lines(read_text(path))
    hits = [(i, line) for i, line in enumerate(lines, 1) if term in line]
    if not hits:
        print(f'No matches found for "{term}" in {path}')
        return
    rows = [f"Line {number}:{show_line(line)}" for number, line in hits]
    print_matches(term, path, len(hits), rows, "matches")


def print_matches(term, where, total, rows, kind, extra=""):
    """The search tools' report: the count, at most MAX_MATCHES rows (of `kind`), the end marker."""
    print(f'Found {total} matches for "{term}" in {where}{extra}:')
    for row in rows[:MAX_MATCHES]:
        print(row)
    if len(rows) > MAX_MATCHES:
        print(f"({len(rows) - MAX_MATCHES} more {kind} not shown; narrow your search)")
    print(f'End of matches for "{term}" in {where}')


def walk_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            yield os.path.join(dirpath, name)


def display_path(path):
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def cmd_search_dir(args):
    if not 1 <= len(args) <= 2:
        raise ToolError("usage: search_dir TERM [DIR]")
    term = fs_arg(args[0])
    root = resolve(args[1]) if len(args) == 2 else os.getcwd()
    if not term:
        raise ToolError("the search term is empty")
    if not os.path.isdir(root):
        raise ToolError(f"Directory {root} not found")
    needle = term.encode("utf-8", "surrogateescape")
    counts = []
    for path in walk_files(root):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue
        count = sum(line.count(needle) > 0 for line in data.split(b"\n")) if needle in data else 0
        if count:
            counts.append((path, count))
    if not counts:
        print(f'No matches found for "{term}" in {root}')
        return
    rows = [f"{display_path(path)} ({count} matches)" for path, count in counts]
    print_matches(term, root, sum(c for _, c in counts), rows, "files", f" ({len(counts)} files)")


def cmd_find_file(args):
    if not 1 <= len(args) <= 2:
        raise ToolError("usage: find_file NAME [DIR]  (NAME may use shell wildcards, e.g. '*.py')")
    pattern = fs_arg(args[0])
    root = resolve(args[1]) if len(args) == 2 else os.getcwd()
    if not os.path.isdir(root):
        raise ToolError(f"Directory {root} not found")
    found = [p for p in walk_files(root) if fnmatch.fnmatchcase(os.path.basename(p), pattern)]
    if not found:
        print(f'No files found named "{pattern}" in {root}')
        return
    print(f'Found {len(found)} files named "{pattern}" in {root}:')
    for path in found[:MAX_MATCHES]:
        print(display_path(path))
    if len(found) > MAX_MATCHES:
        print(f"({len(found) - MAX_MATCHES} more files not shown; narrow your search)")
