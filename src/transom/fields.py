"""The field types of what clients send: each says in the OpenAPI schema what it accepts, and
refuses the rest with one sentence (a 422 through the API), so a value no database stores never
reaches one.

- `Text`: no NUL and no lone surrogate (PostgreSQL text and UTF-8 take neither); lengths are
  set where it is used, to its column's.
- `Timestamp`: an ISO 8601 date-time (not a number: pydantic would read `0.5` as a Unix time)
  of a year from 2 to 9998, so moving it to UTC, and a day either side, never overflows.
- `Flag`, `Count`, `Seconds`: JSON booleans and numbers as JSON Schema reads them (no `0` for
  false, no `"1"` for one, 3.0 is the integer 3); counts bounded to the 32-bit INTEGER columns
  that hold them; seconds finite.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictBool, StrictFloat

__all__ = ["INT32", "MAX_YEAR", "MIN_YEAR", "Count", "Flag", "JsonInteger", "Seconds", "Text",
           "Timestamp", "check_text"]

INT32 = 2**31 - 1
MIN_YEAR = 2
MAX_YEAR = 9998

# Years 0002..9998 (a JSON Schema pattern: ECMA and Python regex alike, no look-arounds).
_YEARS = r"^(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"


def check_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not hold a NUL character (\\u0000)")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text may not hold a lone surrogate (half of a UTF-16 pair)") from None
    return value


Text = Annotated[str, AfterValidator(check_text),
                 Field(json_schema_extra={"pattern": r"^[^\x00]*$"})]
"""Text a database stores as it is."""


def _no_number(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{value!r} is a number, not a date-time: send ISO 8601, like "
                         f"2026-01-31T09:00:00Z")
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError(f"{value!r} is a number, not a date-time: send ISO 8601, like "
                         f"2026-01-31T09:00:00Z")
    return value


def _in_range(value: datetime) -> datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"the year {value.year} is out of range (limit: years {MIN_YEAR} to "
                         f"{MAX_YEAR})")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_no_number), AfterValidator(_in_range),
                      Field(json_schema_extra={"pattern": _YEARS})]
"""A point in time a client sends."""

Flag = StrictBool
def _json_integer(value: Any) -> Any:
    # JSON Schema's integer: 3 and 3.0, never "3" or true.
    if isinstance(value, str | bool):
        raise ValueError(f"{value!r} is not a number: send an integer")
    return value


JsonInteger = BeforeValidator(_json_integer)
"""After an integer's bounds (`Annotated[int, Field(ge=..), JsonInteger]`), so that the schema
still shows them."""
Count = Annotated[int, Field(ge=0, le=INT32), JsonInteger]
"""A count or limit of at least zero, in a 32-bit column."""
Seconds = Annotated[StrictFloat, Field(allow_inf_nan=False)]
"""A finite number of seconds."""
