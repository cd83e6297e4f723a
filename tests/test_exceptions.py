"""The error tree: every class drawn in the module's docstring, one HTTP table both ways."""

from __future__ import annotations

import inspect
import re

import pytest

import transom.exceptions as exc_module
from transom.exceptions import (
    HTTP_STATUS,
    ClaimLost,
    InvalidTransition,
    TransomError,
    UserInputError,
    error_from_http,
    http_status,
)

CLASSES = [obj for _, obj in inspect.getmembers(exc_module, inspect.isclass)
           if issubclass(obj, BaseException) and obj.__module__ == exc_module.__name__]


def test_every_error_class_is_drawn_in_the_tree_and_exported() -> None:
    drawn = set(re.findall(r"^[ │├└─]*(\w+)", exc_module.__doc__ or "", flags=re.MULTILINE))
    drawn |= {"TaskRunTimeout", "FlowRunTimeout"} if "TaskRunTimeout / FlowRunTimeout" in (
        exc_module.__doc__ or "") else set()
    assert len(CLASSES) >= 20
    for cls in CLASSES:
        assert cls.__name__ in drawn, f"{cls.__name__} is not drawn in the tree"
        assert cls.__name__ in exc_module.__all__


def test_statuses_in_the_drawing_are_the_table() -> None:
    doc = exc_module.__doc__ or ""
    for cls, status in HTTP_STATUS.items():
        line = next(line for line in doc.splitlines() if re.search(rf"\b{cls.__name__}\b", line))
        assert line.rstrip().endswith(str(status)), line


@pytest.mark.parametrize("cls", sorted(HTTP_STATUS, key=lambda c: c.__name__),
                         ids=lambda c: c.__name__)
def test_each_class_survives_the_trip_over_http(cls: type[TransomError]) -> None:
    error = cls("why", permanent=False) if issubclass(cls, exc_module.StorageError) \
        else cls("why")
    status, name = http_status(error)  # type: ignore[misc]
    again = error_from_http(status, name, "why")
    assert type(again) is cls and str(again) == "why"


def test_a_subclass_travels_as_its_nearest_listed_base() -> None:
    class Special(ClaimLost):
        pass

    assert http_status(Special("x")) == (409, "ClaimLost")
    assert http_status(ValueError("bug")) is None  # not a client's error: the server answers 500


def test_an_unknown_or_mismatched_name_falls_back_to_the_status() -> None:
    assert type(error_from_http(409, "NoSuchError", "m")) is InvalidTransition
    assert type(error_from_http(400, "NotFound", "m")) is UserInputError  # 404's class, not 400's
    assert error_from_http(418, None, "teapot") is None
