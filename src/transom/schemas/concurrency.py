"""Concurrency limits and their slots on the wire: what a client sends and what it reads back."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat

from transom.fields import INT32, Count, Flag, JsonInteger, Text, check_text
from transom.schemas._base import _Model

__all__ = [
    "MAX_LEASE_SECONDS",
    "ConcurrencyLeaseRead",
    "ConcurrencyLimitCreate",
    "ConcurrencyLimitName",
    "ConcurrencyLimitRead",
    "ConcurrencyLimitUpdate",
    "LeaseRenew",
    "LimitUsage",
    "SlotsAcquire",
    "SlotsAnswer",
]

MAX_LEASE_SECONDS = 86_400.0  # a day: a lease is renewed by its holder long before it ends
_NAME_PATTERN = r"^[^/%&<>\x00-\x1f\x7f]+$"  # Prefect's rule: no / % & > < (URLs, pages)
_NAME = re.compile(_NAME_PATTERN)


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r} cannot be a concurrency limit's name: it may not contain "
                         "/ % & < > or control characters")
    return check_text(value)


ConcurrencyLimitName = Annotated[str, Field(min_length=1, max_length=255,
                                            json_schema_extra={"pattern": _NAME_PATTERN}),
                                 AfterValidator(_check_name)]
Decay = Annotated[StrictFloat, Field(ge=0, le=1e9, allow_inf_nan=False)]
LeaseSeconds = Annotated[StrictFloat, Field(gt=0, le=MAX_LEASE_SECONDS, allow_inf_nan=False)]


class ConcurrencyLimitCreate(BaseModel):
    """A global concurrency limit (a limit named `tag:T` limits the task runs tagged T)."""

    model_config = ConfigDict(extra="forbid")

    name: ConcurrencyLimitName
    limit: Count
    slot_decay_per_second: Decay = 0.0
    active: Flag = True


class ConcurrencyLimitUpdate(BaseModel):
    """What to change of a limit; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    limit: Count | None = None
    slot_decay_per_second: Decay | None = None
    active: Flag | None = None


class ConcurrencyLeaseRead(_Model):
    """Slots one holder occupies, until `expires` unless the holder renews the lease."""

    id: uuid.UUID
    slots: int
    holder: str
    created: datetime
    expires: datetime


class ConcurrencyLimitRead(_Model):
    id: uuid.UUID
    name: str
    limit: int
    slot_decay_per_second: float
    active: bool
    active_slots: float  # slots in use now: held leases, plus rate-limit slots not decayed yet
    leases: list[ConcurrencyLeaseRead] = []
    created: datetime
    updated: datetime


class SlotsAcquire(BaseModel):
    """Take `occupy` slots of every named limit at once, or none of them.

    mode `concurrency`: held by a lease of `lease_seconds` (renewed by the holder, released at
    the end). mode `rate_limit`: taken for good, freed by the limits' slot decay."""

    model_config = ConfigDict(extra="forbid")

    names: list[ConcurrencyLimitName] = Field(min_length=1, max_length=100)
    occupy: Annotated[int, Field(ge=1, le=INT32), JsonInteger] = 1
    mode: Literal["concurrency", "rate_limit"] = "concurrency"
    holder: Annotated[Text, Field(max_length=255)] = ""
    lease_seconds: LeaseSeconds = 30.0
    strict: Flag = False  # a name with no limit: 404 (else it limits nothing)


class LimitUsage(_Model):
    name: str
    active_slots: float
    limit: int


class SlotsAnswer(_Model):
    """Granted (with the lease, in mode `concurrency`, when some limit exists), or not yet:
    then `limits` says how full each limit is, for the waiter to say what it waits for."""

    granted: bool
    lease_id: uuid.UUID | None = None
    limits: list[LimitUsage] = []
    missing: list[str] = []  # names with no limit (they limit nothing)


class LeaseRenew(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lease_ids: list[uuid.UUID] = Field(max_length=10_000)
    lease_seconds: LeaseSeconds
