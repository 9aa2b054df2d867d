"""The one redaction routine: every file a run writes, and every error it prints, goes through `scrub`.

What counts as a secret:
- known values: the values of credential-named environment variables (`*_API_KEY`, `*TOKEN*`,
  `*SECRET*`, `*PASSWORD*`, ...), the credentials inside URLs found in the environment, and whatever
  was registered with `register_secret` (a policy's API key, the password of `--base-url`);
- shapes: the user:password part of `scheme://user:password@host`, the value of a secret-named
  query parameter (`?api_key=...`, `&token=...`, `&sig=...`), bearer tokens, `sk-...` keys;
- fields: the string value of a secret-named key (`api_key`, `token`, `Authorization`, ...).

Only strings change: a boolean such as `api_key_required` or a number stays as it is. Patches are
never edited (`VERBATIM_KEYS`): a patch that carries a known secret is withheld by its producer
(see `carries_secret`), and a writer handed one raises `SecretInPatch` rather than write it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

REDACTED = "***"
MIN_SECRET_CHARS = 8
"""Shorter values are not replaced by value (a 4-letter password would mangle every text); their
URL form is still redacted by shape."""
VERBATIM_KEYS = frozenset({"patch", "model_patch"})
"""Fields that hold a patch: written as they are or not at all, never edited."""
SECRET_IN_PATCH = "it contains the value of a known secret (an API key, token or URL credential of this run)"
PATCH_WITHHELD = f"the patch was withheld: {SECRET_IN_PATCH}; nothing of it was written"

_SECRET_KEY = re.compile(
    r"(^|[_-])(api[_-]?key|apikey|secret|client[_-]?secret|password|passwd|token|access[_-]?token|"
    r"auth[_-]?token|authorization|auth|credentials?|private[_-]?key)$",
    re.I,
)
_SECRET_ENV = re.compile(r"(^|_)KEY$|API_?KEY|TOKEN(?!IZER)|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.I)
_URL_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)([^/@\s:]*:[^/@\s]*|[A-Za-z0-9_-]{20,})@", re.I)
_URL_QUERY_SECRET = re.compile(
    r"([?&](?:api[_-]?key|apikey|key|access[_-]?token|auth[_-]?token|token|secret|client[_-]?secret|"
    r"password|passwd|sig|signature|auth|code)=)([^&#\s\"'<>]+)",
    re.I,
)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_KEY_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{20,})")

_registered: set[str] = set()
_lock = threading.Lock()


class SecretInPatch(ValueError):
    """A patch that carries a known secret reached a writer; it is refused, not edited."""


def register_secret(value: str | None) -> None:
    """Treat `value` (and any credential inside it, if it is a URL) as a known secret from now on."""
    if not value:
        return
    found = url_credentials(value) if "://" in value else [value]
    with _lock:
        _registered.update(v for v in found if len(v) >= MIN_SECRET_CHARS)


def url_credentials(text: str) -> list[str]:
    """The passwords (and user-only tokens) inside `scheme://user:password@host` URLs in `text`, and
    the values of their secret-named query parameters (`?api_key=...`)."""
    out = []
    for m in _URL_USERINFO.finditer(text):
        info = m.group(2)
        secret = info.split(":", 1)[1] if ":" in info else info
        out += [secret, unquote(secret)]
    for m in _URL_QUERY_SECRET.finditer(text):
        out += [m.group(2), unquote(m.group(2))]
    return [s for s in dict.fromkeys(out) if s]


def known_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Every known secret value, longest first (so a longer one is replaced before its substrings)."""
    environ = os.environ if environ is None else environ
    found = {v for k, v in environ.items() if _SECRET_ENV.search(k)}
    for value in environ.values():
        if "://" in value:
            found.update(url_credentials(value))
    with _lock:
        found |= _registered
    return sorted((v for v in found if len(v) >= MIN_SECRET_CHARS), key=len, reverse=True)


def carries_secret(text: str, secrets: Iterable[str] | None = None) -> bool:
    """Whether `text` contains a known secret value (a patch that does must not be written)."""
    secrets = known_secrets() if secrets is None else secrets
    return bool(text) and any(s in text for s in secrets)


def scrub_text(text: str, secrets: Iterable[str] | None = None) -> str:
    """`text` with known secret values and secret-shaped substrings replaced by '***'."""
    for secret in known_secrets() if secrets is None else secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _URL_USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", text)
    text = _URL_QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    return _KEY_SHAPES.sub(REDACTED, text)


def is_secret_key(key: Any) -> bool:
    """Whether a field of this name holds a credential (`api_key`, `hf_token`, `Authorization`)."""
    return bool(_SECRET_KEY.search(str(key)))


def scrub(value: Any, secrets: Iterable[str] | None = None) -> Any:
    """A copy of `value` (JSON-like data or a string) with every secret redacted; see the module doc."""
    return _scrub(value, known_secrets() if secrets is None else list(secrets))


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            # Keys too: a critic spec with a URL names the rows of an experiment's tables.
            k = scrub_text(k, secrets) if isinstance(k, str) else k
            if k in VERBATIM_KEYS and isinstance(v, str):
                if carries_secret(v, secrets):
                    raise SecretInPatch(f"refusing to write {k!r}: {SECRET_IN_PATCH}")
                out[k] = v
            elif is_secret_key(k) and isinstance(v, str) and v:
                out[k] = REDACTED
            else:
                out[k] = _scrub(v, secrets)
        return out
    if isinstance(value, list | tuple):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, str):
        return scrub_text(value, secrets)
    return value


class ScrubLogs(logging.Filter):
    """A logging filter that scrubs each record's message (add it to a logger whose messages may
    carry a URL with credentials or a key)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub_text(record.getMessage()), None
        return True
