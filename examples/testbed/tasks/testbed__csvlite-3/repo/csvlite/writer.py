"""Write rows as CSV text that ``parse`` reads back unchanged."""

from __future__ import annotations


def format_row(fields: list[str], delimiter: str = ",") -> str:
    """One line of CSV, without its newline; fields that need it are quoted."""
    return delimiter.join(_quote(field) if _needs_quotes(field, delimiter) else field for field in fields)


def format_rows(rows: list[list[str]], delimiter: str = ",") -> str:
    return "".join(format_row(row, delimiter) + "\n" for row in rows)


def _needs_quotes(field: str, delimiter: str) -> bool:
    """A field must be quoted when it holds a character with a meaning in CSV."""
    return any(ch in field for ch in (delimiter, '"', "\n", "\r"))


def _quote(field: str) -> str:
    return '"' + field.replace('"', '""') + '"'
