"""State, files and the window: what every tool command shares.

The open file and the window's first line live in a JSON file (`state_path`), so they survive from
one command to the next; text is read and written as UTF-8 with surrogateescape, so any bytes round-trip.
"""

import json
import os
import select
import stat
import sys

WINDOW = int(os.environ.get("SWE_SEARCH_WINDOW", "100"))
OVERLAP = 2
MAX_LINE_CHARS = int(os.environ.get("SWE_SEARCH_MAX_LINE_CHARS", "2000"))
STDIN_WAIT = 2.0


class ToolError(Exception):
    """A user-facing error: printed as 'Error: ...', exit status 1."""


def state_path():
    return os.environ.get("SWE_SEARCH_STATE") or os.path.expanduser("~/.swe_search_state/state.json")


def read_tool_state():
    try:
        with open(state_path()) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def write_tool_state(state):
    path = state_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def fs_arg(arg):
    """Command-line text as the bytes the shell passed, decoded as UTF-8."""
    return os.fsencode(arg).decode("utf-8", "surrogateescape")


def resolve(path):
    return os.path.abspath(os.path.expanduser(path))


def split_lines(text):
    """Lines with their terminators; only '\\n' ends a line (unlike str.splitlines)."""
    if not text:
        return []
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def read_text(path):
    if not os.path.exists(path):
        raise ToolError(f"File {path} not found")
    if os.path.isdir(path):
        raise ToolError(f"{path} is a directory, not a file (try `ls {path}`)")
    with open(path, "rb") as f:
        data = f.read()
    if b"\0" in data[:8192]:
        raise ToolError(f"{path} looks like a binary file")
    return data.decode("utf-8", "surrogateescape")


def write_text(path, text):
    with open(path, "wb") as f:
        f.write(text.encode("utf-8", "surrogateescape"))


def current_file(state):
    path = state.get("file")
    if not path:
        raise ToolError("No file open. Use `open FILE` first.")
    return path


def show_line(line):
    line = line.rstrip("\n").rstrip("\r")
    if len(line) > MAX_LINE_CHARS:
        cut = len(line) - MAX_LINE_CHARS
        line = line[:MAX_LINE_CHARS] + f" ... [{cut} more characters on this line]"
    return line


def clamp_first(first, total):
    return max(1, min(first, total - WINDOW + 1))


def print_window(path, lines, first):
    total = len(lines)
    first = clamp_first(first, total)
    last = min(total, first + WINDOW - 1)
    print(f"[File: {path} ({total} lines total)]")
    if total == 0:
        print("(empty file)")
        return first
    if first > 1:
        print(f"({first - 1} more lines above)")
    for number in range(first, last + 1):
        print(f"{number}:{show_line(lines[number - 1])}")
    if last < total:
        print(f"({total - last} more lines below)")
    return first


def show(path, first, lines=None):
    """Print the window at `first` and remember it."""
    if lines is None:
        lines = split_lines(read_text(path))
    first = print_window(path, lines, first)
    write_tool_state({"file": path, "first": first})


def parse_line_number(text, what="line number"):
    try:
        return int(text)
    except ValueError:
        raise ToolError(f"{what} must be an integer, got {text!r}") from None


def check_line(number, total, path):
    if total == 0:
        raise ToolError(f"{path} is empty; there is no line {number}")
    if not 1 <= number <= total:
        raise ToolError(f"line {number} is out of range: {path} has {total} lines (valid: 1-{total})")


def read_stdin():
    """The heredoc text, or None when nothing arrives on stdin (no heredoc given)."""
    try:
        fd = sys.stdin.fileno()
        mode = os.fstat(fd).st_mode
    except (AttributeError, OSError, ValueError):
        return None
    if os.isatty(fd):
        return None
    if not stat.S_ISREG(mode):
        ready, _, _ = select.select([fd], [], [], STDIN_WAIT)
        if not ready:
            return None
    return sys.stdin.buffer.read().decode("utf-8", "surrogateescape")


def match_newlines(text, lines):
    """Use CRLF in inserted text when the file mostly does."""
    crlf = sum(1 for line in lines if line.endswith("\r\n"))
    if lines and crlf * 2 > len(lines):
        return text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text
