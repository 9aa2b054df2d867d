from csvlite import format_row, format_rows, parse


def test_plain_fields_are_not_quoted():
    assert format_row(["a", "b", "1.5"]) == "a,b,1.5"


def test_fields_with_delimiters_or_newlines_are_quoted():
    assert format_row(["a,b", "c\nd"]) == '"a,b","c\nd"'


def test_other_delimiter():
    assert format_row(["a,b", "c;d"], delimiter=";") == 'a,b;"c;d"'


def test_round_trip():
    rows = [["name", "note"], ["ada", "first, and best"], ["bob", "two\nlines"]]
    assert parse(format_rows(rows)) == rows
