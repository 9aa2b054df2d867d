"""Read and write CSV text, with typed values."""

from csvlite.reader import CsvError, parse, records
from csvlite.values import infer
from csvlite.writer import format_row, format_rows

__all__ = ["CsvError", "format_row", "format_rows", "infer", "parse", "records"]
__version__ = "0.4.0"
