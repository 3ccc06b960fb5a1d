"""The failures the domain rules can name.

Both doors translate these: GraphQL puts the expected ones in ``userErrors`` and
raises :class:`Forbidden` as a top-level error; REST answers a JSON error with a 4xx.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.Enum):
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    TAKEN = "TAKEN"
    INVALID_STATE = "INVALID_STATE"


class DomainError(Exception):
    """An expected failure of a domain operation; nothing was changed."""

    code: ErrorCode = ErrorCode.INVALID_INPUT

    def __init__(self, message: str, field: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def each(self) -> list[DomainError]:
        """The failures this error stands for: itself, or each of a batch's."""
        return [self]


class InvalidInput(DomainError):
    code = ErrorCode.INVALID_INPUT


class InvalidBatch(InvalidInput):
    """Several items of one batch are invalid; each names its item in its field. The
    batch's own message and field are the first's, so a door showing one shows that."""

    def __init__(self, errors: list[DomainError]) -> None:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first.message + more, first.field)
        self.errors = errors

    def each(self) -> list[DomainError]:
        return list(self.errors)


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class Taken(DomainError):
    code = ErrorCode.TAKEN


class InvalidState(DomainError):
    code = ErrorCode.INVALID_STATE


class Forbidden(Exception):
    """The caller is known but its key may not do this (a permission, not a user error)."""
