"""Progress output of the libraries under swe-search: the CLI draws its own.

transformers draws a `Loading weights` bar on every model load (the critic, a local policy), several
times per experiment, and huggingface_hub a bar per download; in a log or CI each is a screen of
`0%| ... 100%|`. Both read HF_HUB_DISABLE_PROGRESS_BARS when imported (transformers' own switch,
`transformers.utils.logging.disable_progress_bar`, starts from it), so every entry point sets it
first, before either is imported, and the processes it starts (torchrun ranks, a critic server)
inherit it. `HF_HUB_DISABLE_PROGRESS_BARS=0` in the environment keeps the bars.
"""

from __future__ import annotations

import os
import sys


def silence_library_progress() -> None:
    """No transformers / huggingface_hub progress bars from here on (unless the user asked for them)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] != "1":
        return
    if "transformers" in sys.modules:  # imported already: its switch was read; tell it through its API
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
