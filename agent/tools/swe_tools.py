"""The agent's file tools, run inside the task container.

Installed by `agent.scaffold.install_tools` as /usr/local/lib/swe-search-tools/swe_tools.py with one
wrapper per command in /usr/local/bin (`open`, `goto`, `scroll_up`, `scroll_down`, `search_file`,
`search_dir`, `find_file`, `create`, `edit`, `replace`, `submit`). Wrappers call the system
interpreter by absolute path with `-I -S`, so this file uses the standard library only and must run
on any Python 3.6+ (SWE-bench images ship old system Pythons next to the repo's conda one).

State (the open file and the window's first line) lives in a JSON file, by default
~/.swe_search_state/state.json (override with SWE_SEARCH_STATE), so it survives between commands.

Quoting conventions (documented in the system prompt too):
  edit START:END <<'EOF'          replace lines START..END (1-based, inclusive) of the open file
  ...new text, kept verbatim...   with the heredoc's text; END = START-1 inserts before START;
  EOF                             an empty heredoc deletes the lines.
  replace [--replace-all] SEARCH REPLACE [FILE]    literal text as two shell words
  replace [--replace-all] [FILE] <<'EOF'           one or more aider-style blocks:
  <<<<<<< SEARCH
  old text
  =======
  new text
  >>>>>>> REPLACE
  EOF
"""

import contextlib
import fnmatch
import json
import os
import select
import stat
import subprocess
import sys

WINDOW = int(os.environ.get("SWE_SEARCH_WINDOW", "100"))
OVERLAP = 2
MAX_LINE_CHARS = int(os.environ.get("SWE_SEARCH_MAX_LINE_CHARS", "2000"))
MAX_MATCHES = 100
STDIN_WAIT = 2.0
SKIP_DIRS = {".git", "__pycache__", "node_modules", ".tox", ".mypy_cache", ".pytest_cache", ".eggs"}
SEARCH_MARK, DIVIDER, REPLACE_MARK = "<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE"


class ToolError(Exception):
    """A user-facing error: printed as 'Error: ...', exit status 1."""


# ---------------------------------------------------------------- state and files


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


def syntax_warning(path, old_text, new_text):
    """A warning when an edit turns a parsable Python file into an unparsable one."""
    if not path.endswith(".py"):
        return ""
    try:
        compile(old_text, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return ""
    try:
        compile(new_text, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"Warning: {path} no longer parses as Python after this edit ({type(exc).__name__}: {exc.msg} at line {exc.lineno}). Fix it with another edit."
    except ValueError as exc:
        return f"Warning: {path} no longer parses as Python after this edit ({exc})."
    return ""


# ---------------------------------------------------------------- commands


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


def cmd_create(args):
    if len(args) != 1:
        raise ToolError("usage: create FILE")
    path = resolve(args[0])
    if os.path.exists(path):
        raise ToolError(f"{path} already exists; use `open {args[0]}` to view it")
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    write_text(path, "")
    print(f"Created {path}. Add text with `edit 1:0 <<'EOF'`.")
    show(path, 1, [])


def parse_range(text):
    start, sep, end = text.partition(":")
    if not sep:
        raise ToolError(f"edit needs a line range START:END, e.g. `edit 12:14 <<'EOF'`, got {text!r}")
    return parse_line_number(start, "START"), parse_line_number(end, "END")


def cmd_edit(args):
    if len(args) != 1:
        raise ToolError("usage: edit START:END <<'EOF'\\n<new lines>\\nEOF")
    path = current_file(read_tool_state())
    start, end = parse_range(args[0])
    old_text = read_text(path)
    lines = split_lines(old_text)
    total = len(lines)
    if total == 0 and (start, end) == (1, 1):
        end = 0
    if not 1 <= start <= total + 1:
        raise ToolError(
            f"START {start} is out of range: {path} has {total} lines (valid: 1-{total}; {total + 1} appends)"
        )
    if not start - 1 <= end <= total:
        raise ToolError(
            f"END {end} is out of range: it must be between START-1 ({start - 1}, insert only) and {total} (the last line)"
        )
    text = read_stdin()
    if text is None:
        raise ToolError(f"edit reads the new text from a heredoc: edit {start}:{end} <<'EOF' ... EOF")
    if text and not text.endswith("\n"):
        text += "\n"
    if end == total and total and not lines[-1].endswith("\n"):
        text = text[:-1] if text.endswith("\n") else text
    if start > total and total and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    new = split_lines(match_newlines(text, lines))
    lines[start - 1 : end] = new
    new_text = "".join(lines)
    write_text(path, new_text)
    warning = syntax_warning(path, old_text, new_text)
    print(
        f"Edited {path}: lines {start}-{end} replaced by {len(new)} lines. Check indentation and duplicates below."
    )
    if warning:
        print(warning)
    show(path, start - max(0, (WINDOW - len(new)) // 2), lines)


def parse_blocks(text):
    """Aider-style SEARCH/REPLACE blocks -> [(search, replace)]."""
    blocks, mode, search, replace = [], None, [], []
    for line in split_lines(text):
        marker = line.rstrip("\r\n").strip()
        if mode is None and marker == SEARCH_MARK:
            mode, search, replace = "search", [], []
        elif mode == "search" and marker == DIVIDER:
            mode = "replace"
        elif mode == "replace" and marker == REPLACE_MARK:
            blocks.append(("".join(search), "".join(replace)))
            mode = None
        elif mode == "search":
            search.append(line)
        elif mode == "replace":
            replace.append(line)
    if mode is not None or not blocks:
        raise ToolError(
            f"replace expects blocks of the form\n{SEARCH_MARK}\nold text\n{DIVIDER}\nnew text\n{REPLACE_MARK}"
        )
    return blocks


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def no_match_hint(search, text):
    squeeze = " ".join(search.split())
    hints = []
    if squeeze and squeeze in " ".join(text.split()):
        hints.append("the text matches if whitespace is ignored: check indentation and line breaks")
    if "\t" in text and "\t" not in search:
        hints.append("the file indents with tabs")
    return (" Hint: " + "; ".join(hints) + ".") if hints else " Open the file to copy the exact text."


def apply_replace(text, search, replacement, replace_all, path):
    if not search:
        raise ToolError("the SEARCH text is empty")
    count = text.count(search)
    if count == 0:
        raise ToolError(f"no match for the SEARCH text in {path}.{no_match_hint(search, text)}")
    if count > 1 and not replace_all:
        starts, pos = [], text.find(search)
        while pos >= 0:
            starts.append(line_of(text, pos))
            pos = text.find(search, pos + 1)
        raise ToolError(
            "the SEARCH text occurs {} times in {} (lines {}); add surrounding lines to make it unique, "
            "or pass --replace-all".format(count, path, ", ".join(str(s) for s in starts[:20]))
        )
    first_line = line_of(text, text.find(search))
    return text.replace(search, replacement), count, first_line


def cmd_replace(args):
    replace_all = "--replace-all" in args
    args = [a for a in args if a != "--replace-all"]
    if len(args) >= 2:
        if len(args) > 3:
            raise ToolError(
                "usage: replace [--replace-all] SEARCH REPLACE [FILE]  (quote each as one shell word)"
            )
        blocks = [(fs_arg(args[0]), fs_arg(args[1]))]
        path = resolve(args[2]) if len(args) == 3 else current_file(read_tool_state())
    else:
        path = resolve(args[0]) if args else current_file(read_tool_state())
        stdin = read_stdin()
        if stdin is None:
            raise ToolError(
                "replace without SEARCH REPLACE arguments reads SEARCH/REPLACE blocks from a heredoc"
            )
        blocks = parse_blocks(stdin)
    old_text = read_text(path)
    lines = split_lines(old_text)
    text, total, first_line = old_text, 0, None
    for search, replacement in blocks:
        text, count, line = apply_replace(
            text, match_newlines(search, lines), match_newlines(replacement, lines), replace_all, path
        )
        total += count
        first_line = line if first_line is None else min(first_line, line)
    write_text(path, text)
    print("Replaced {} occurrence{} in {}.".format(total, "" if total == 1 else "s", path))
    warning = syntax_warning(path, old_text, text)
    if warning:
        print(warning)
    show(path, first_line - WINDOW // 4)


def cmd_submit(args):
    root = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ).stdout.strip()
    if not root:
        raise ToolError("not inside a git repository")
    subprocess.run(["git", "-C", root, "--no-pager", "diff", "HEAD"])


COMMANDS = {
    "open": cmd_open,
    "goto": cmd_goto,
    "scroll_up": lambda args: cmd_scroll(args, -1),
    "scroll_down": lambda args: cmd_scroll(args, 1),
    "search_file": cmd_search_file,
    "search_dir": cmd_search_dir,
    "find_file": cmd_find_file,
    "create": cmd_create,
    "edit": cmd_edit,
    "replace": cmd_replace,
    "submit": cmd_submit,
}


def main(argv):
    with contextlib.suppress(AttributeError):  # Python < 3.7 has no reconfigure
        sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    if len(argv) < 2 or argv[1] not in COMMANDS:
        print("usage: swe_tools.py {} ...".format("|".join(COMMANDS)), file=sys.stderr)
        return 2
    try:
        COMMANDS[argv[1]](argv[2:])
    except ToolError as exc:
        print(f"Error: {exc}")
        return 1
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
