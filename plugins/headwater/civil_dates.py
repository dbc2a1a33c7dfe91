"""Calendar dates of day numbers for any year, also the ones Python's `datetime` cannot hold.

Readers and the mapping stage report out-of-range dates (year 0, year 294276, ...) as text a
person can check against the source; `datetime.date` stops at years 1..9999 and Arrow's own text
conversion gets such years wrong, so the conversion is done here.
"""

from __future__ import annotations


def civil(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) of a day number since 1970-01-01 (H. Hinnant's algorithm)."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def civil_text(days: int) -> str:
    """ISO text of a day number: `2024-03-01`, `0000-01-01`, `-0001-12-31`, `294276-12-31`."""
    year, month, day = civil(days)
    return f"{'-' if year < 0 else ''}{abs(year):04d}-{month:02d}-{day:02d}"
