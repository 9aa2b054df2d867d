"""The entry of the in-container tools: `python -I -S /usr/local/lib/swe-search-tools TOOL ARGS...`.

Python runs a folder by its __main__.py and puts that folder first on sys.path even under -I (which
leaves out a script's own folder), so the swe_tools package beside this file imports.
"""

import sys

from swe_tools import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
