"""The agent's file tools, run inside the task container: the command table and `main`.

`agent.scaffold.install_tools` copies agent/tools/ (this package and the __main__.py beside it) to
/usr/local/lib/swe-search-tools and writes one wrapper per command in /usr/local/bin (`open`, `goto`,
`scroll_up`, `scroll_down`, `search_file`, `search_dir`, `find_file`, `create`, `edit`, `replace`,
`submit`). Wrappers run that folder with the system interpreter by absolute path and `-I -S`, so
these files use the standard library only and must run on any Python 3.6+ (SWE-bench images ship
old system Pythons next to the repo's conda one).

Modules: `files` (state, file text, the window), `browse` (the commands that look), `edit` (the
commands that change files). State (the open file and the window's first line) lives in a JSON
file, by default ~/.swe_search_state/state.json (override with SWE_SEARCH_STATE), so it survives
between commands.

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
import subprocess
import sys

from .browse import cmd_find_file, cmd_goto, cmd_open, cmd_scroll, cmd_search_dir, cmd_search_file
from .edit import cmd_create, cmd_edit, cmd_replace
from .files import ToolError


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
        print("usage: swe_tools {} ...".format("|".join(COMMANDS)), file=sys.stderr)
        return 2
    try:
        COMMANDS[argv[1]](argv[2:])
    except ToolError as exc:
        print(f"Error: {exc}")
        return 1
    sys.stdout.flush()
    return 0
