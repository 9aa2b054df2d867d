"""The commands that change files: create, edit (a line range from a heredoc), replace (literal text)."""

import os

from .files import (
    WINDOW,
    ToolError,
    current_file,
    fs_arg,
    match_newlines,
    parse_line_number,
    read_stdin,
    read_text,
    read_tool_state,
    resolve,
    show,
    split_lines,
    write_text,
)

SEARCH_MARK, DIVIDER, REPLACE_MARK = "<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE"


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
