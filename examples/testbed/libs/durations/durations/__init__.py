"""Human and ISO 8601 durations, and working-day arithmetic."""

from durations.business import add_business_days, business_days_between
from durations.human import DurationError, format_duration, parse_duration
from durations.iso import parse_iso

__all__ = [
    "DurationError",
    "add_business_days",
    "business_days_between",
    "format_duration",
    "parse_duration",
    "parse_iso",
]
__version__ = "1.1.0"
