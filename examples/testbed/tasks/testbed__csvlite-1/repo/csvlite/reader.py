"""Parse CSV text: fields split on a delimiter, quoted fields may hold delimiters, quotes and newlines."""

from __future__ import annotations


class CsvError(ValueError):
    """The text is not valid CSV, or a row does not fit its header."""


def parse(text: str, delimiter: str = ",", quote: str = '"') -> list[list[str]]:
    """The rows of ``text``; inside quotes a doubled quote stands for one quote character."""
    rows: list[list[str]] = []
    row: list[str] = []
    field: list[str] = []
    in_quotes = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_quotes:
            if ch == quote and text[i + 1 : i + 2] == quote:
                field.append(quote)
                i += 1
                continue
            if ch == quote:
                in_quotes = False
            else:
                field.append(ch)
        elif ch == quote:
            in_quotes = True
        elif ch == delimiter:
            row.append("".join(field))
            field = []
        elif ch == "\n":
            row.append("".join(field))
            rows.append(row)
            row, field = [], []
        elif ch != "\r":
            field.append(ch)
        i += 1
    if in_quotes:
        raise CsvError("unterminated quoted field at the end of the text")
    if field or row:
        row.append("".join(field))
        rows.append(row)
    return rows


def records(text: str, delimiter: str = ",") -> list[dict[str, str]]:
    """The rows after the header as dicts; a short row gets ``""`` for its missing fields.

    A row with more fields than the header is an error that names its line.
    """
    rows = parse(text, delimiter)
    if not rows:
        return []
    header, *body = rows
    result = []
    for lineno, row in enumerate(body, start=2):
        if len(row) > len(header):
            raise CsvError(f"line {lineno}: {len(row)} fields, but the header has {len(header)}")
        padded = row + [""] * (len(header) - len(row))
        result.append(dict(zip(header, padded, strict=True)))
    return result
