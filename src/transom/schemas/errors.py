"""Error answers on the wire, and a pydantic error said in one sentence."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

__all__ = ["ErrorBody", "ValidationErrorBody", "ValidationErrorItem", "first_error"]


def first_error(exc: ValidationError, what: str) -> str:
    """A pydantic error in one sentence: where, and the first problem (`what` if no field)."""
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ())) or what
    return f"{where}: {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}"


# -- error answers --------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    """An error answer: one sentence, and the class of `transom.exceptions` it stands for."""

    detail: str
    error: str | None = None


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str | None = None
    type: str | None = None


class ValidationErrorBody(BaseModel):
    """A 422 for a request that does not match the schema: the first problem in one sentence,
    then every problem."""

    detail: str
    errors: list[ValidationErrorItem] = []
