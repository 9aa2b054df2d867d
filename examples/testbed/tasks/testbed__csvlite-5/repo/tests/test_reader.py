import pytest

from csvlite import CsvError, parse, records


def test_plain_rows():
    assert parse("a,b,c\n1,2,3\n") == [["a", "b", "c"], ["1", "2", "3"]]


def test_quoted_field_holds_delimiters_and_newlines():
    assert parse('x,"a, b\nc"\n') == [["x", "a, b\nc"]]


def test_crlf_line_endings():
    assert parse("a,b\r\n1,2\r\n") == [["a", "b"], ["1", "2"]]


def test_empty_fields_in_the_middle():
    assert parse("a,,c\n") == [["a", "", "c"]]


def test_last_line_without_newline():
    assert parse("a,b\n1,2") == [["a", "b"], ["1", "2"]]


def test_other_delimiter():
    assert parse("a;b\n", delimiter=";") == [["a", "b"]]


def test_unterminated_quote_is_an_error():
    with pytest.raises(CsvError, match="unterminated"):
        parse('a,"b\n')


def test_records_use_the_header():
    assert records("id,name\n1,ada\n2,bob\n") == [{"id": "1", "name": "ada"}, {"id": "2", "name": "bob"}]


def test_short_rows_are_padded():
    assert records("id,name\n2\n") == [{"id": "2", "name": ""}]


def test_long_rows_are_an_error():
    with pytest.raises(CsvError, match="3 fields, but the header has 2"):
        records("id,name\n1,ada,x\n")


def test_no_text_no_records():
    assert records("") == []
