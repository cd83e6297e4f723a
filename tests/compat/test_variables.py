"""`transom.variables.Variable` as Prefect 3 documents it (docs: "Set and get variables",
api-ref prefect.variables): set, get with a default, overwrite, unset, JSON values, inside sync
and async flows, and the same with a server (TRANSOM_API_URL)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.compat.conftest import Where
from transom import flow
from transom.services import open_backend
from transom.variables import Variable


def test_the_documented_lifecycle(where: Where) -> None:
    created = Variable.set("answer", 42)
    assert isinstance(created, Variable)
    assert (created.name, created.value, created.tags) == ("answer", 42, [])
    assert Variable.get("answer") == 42
    assert Variable.get("not_the_answer") is None
    assert Variable.get("not_the_answer", default=42) == 42
    assert Variable.set("answer", 43, overwrite=True).value == 43
    assert Variable.get("answer") == 43
    assert Variable.unset("answer") is True
    assert Variable.unset("answer") is False  # "False if the variable did not exist"
    assert Variable.get("answer", default="gone") == "gone"
    Variable.set("kept", "here")
    with open_backend() as backend:  # kept where this test's fixture says
        assert where.place in backend.where and backend.read_variable("kept").value == "here"


def test_setting_an_existing_name_without_overwrite_is_a_value_error(where: Where) -> None:
    Variable.set("region", "eu-west-1", tags=["infra"])
    with pytest.raises(ValueError, match=r"'region' already exists.*overwrite=True"):
        Variable.set("region", "us-east-1")
    assert Variable.get("region") == "eu-west-1"
    replaced = Variable.set("region", "us-east-1", tags=["moved"], overwrite=True)
    assert (replaced.value, replaced.tags) == ("us-east-1", ["moved"])


@pytest.mark.parametrize("value", ["text", 7, 0.25, True, None, ["a", 1, None],
                                   {"nested": {"list": [1.5, False]}}])
def test_values_are_any_json(where: Where, value: Any) -> None:
    Variable.set("value", value)
    got = Variable.get("value", default="missing")
    assert got == value and type(got) is type(value)


def test_names_and_sizes_are_checked(where: Where) -> None:
    with pytest.raises(ValueError, match="lowercase letters, digits, dashes and underscores"):
        Variable.set("My Variable", 1)
    with pytest.raises(ValueError, match="at most 255"):
        Variable.set("x" * 256, 1)
    with pytest.raises(ValueError, match="at most 5000 characters"):
        Variable.set("big", "x" * 5000)
    with pytest.raises(ValueError, match="must be JSON"):
        Variable.set("thing", object())
    assert Variable.set("ok-name_2", "x" * 4998).name == "ok-name_2"  # 5,000 with its quotes


def test_the_documented_sync_flow_reads_what_main_set(where: Where) -> None:
    @flow(log_prints=True)
    def space_mission_sync(mission_name: str) -> str:
        crew = Variable.get("crew_members", default=["Backup1", "Backup2"])
        return f"Launching {mission_name} with crew: {', '.join(crew)}"

    assert space_mission_sync("Moon") == "Launching Moon with crew: Backup1, Backup2"
    Variable.set("crew_members", ["Zaphod", "Arthur", "Trillian"])
    assert space_mission_sync("Mars Expedition") == (
        "Launching Mars Expedition with crew: Zaphod, Arthur, Trillian")


def test_in_async_code_the_methods_are_awaited(where: Where) -> None:
    @flow
    async def async_mission() -> list[Any]:
        await Variable.set("fuel", 100)
        first = await Variable.get("fuel")
        await Variable.aset("fuel", 90, overwrite=True)
        second = await Variable.aget("fuel")
        missing = await Variable.aget("oxygen", default=0)
        return [first, second, missing, await Variable.aunset("fuel"), await Variable.unset("fuel")]

    assert asyncio.run(async_mission()) == [100, 90, 0, True, False]
