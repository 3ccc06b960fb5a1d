"""How failures reach a GraphQL client.

Expected failures of a mutation (validation, lifecycle, not found) come back in the
payload's ``userErrors``. Only authentication, permission, query limits and bugs are
top-level ``errors``, each with an ``extensions.code``; bugs are masked and logged.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import strawberry
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.types import ExecutionResult, Info
from strawberry.types.field import StrawberryField

from ferryman.auth import AuthenticationError
from ferryman.models.errors import DomainError, ErrorCode, Forbidden
from ferryman.models.registry import UNAVAILABLE
from ferryman.models.text import camel_case, reject_unencodable
from ferryman.storage import StorageUnavailable

log = logging.getLogger("ferryman.graphql")

UserErrorCode = strawberry.enum(ErrorCode, name="UserErrorCode")


class QueryLimitError(Exception):
    """A query argument outside what the server accepts (page sizes, lookups)."""


@strawberry.type(description="An expected failure of a mutation; nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "slug"].'
    )
    message: str
    code: ErrorCode


@strawberry.type(description="Fields every mutation payload shares.")
class Payload:
    user_errors: list[UserError] = strawberry.field(default_factory=list)


class UserErrors(FieldExtension):
    """Turn a DomainError raised by a mutation into its payload's ``userErrors``; text that
    cannot be stored is one, refused before the mutation runs."""

    payload_type: type[Payload]

    def apply(self, field: StrawberryField) -> None:
        payload_type = field.type
        assert isinstance(payload_type, type), field.name
        assert issubclass(payload_type, Payload), field.name
        self.payload_type = payload_type

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        try:
            for name, value in kwargs.items():
                reject_unencodable(value, (camel_case(name),))
            return await next_(source, info, **kwargs)
        except DomainError as error:
            return self.payload_type(
                user_errors=[
                    UserError(
                        field=list(each.field) if each.field else None,
                        message=each.message,
                        code=each.code,
                    )
                    for each in error.each()
                ]
            )


class _PublicCode(enum.Enum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


_PUBLIC: dict[type[Exception], _PublicCode] = {
    AuthenticationError: _PublicCode.UNAUTHENTICATED,
    Forbidden: _PublicCode.FORBIDDEN,
    QueryLimitError: _PublicCode.BAD_USER_INPUT,
    # An expected failure raised from a query (a bad id in node(), say).
    DomainError: _PublicCode.BAD_USER_INPUT,
}


def public_code(error: GraphQLError) -> _PublicCode | None:
    """The code to show for an error, or None when it is a bug to be masked."""
    original = error.original_error
    if original is None:
        return _PublicCode.GRAPHQL_VALIDATION_FAILED
    if isinstance(original, GraphQLError):  # a variable's value that its type refused
        return _PublicCode.BAD_USER_INPUT
    for kind, code in _PUBLIC.items():
        if isinstance(original, kind):
            return code
    if isinstance(original, UNAVAILABLE):
        error.message = "the database is unavailable; try again shortly"
        return _PublicCode.SERVICE_UNAVAILABLE
    if isinstance(original, StorageUnavailable):
        error.message = "object storage is unavailable; nothing was changed, try again shortly"
        return _PublicCode.SERVICE_UNAVAILABLE
    return None


class ErrorPolicy(SchemaExtension):
    """Give every top-level error a code, and replace unexpected ones with a bland message."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except GraphQLSyntaxError as error:
            # ParserCache parses as the parse step starts, so a syntax error (and the token
            # limit) escapes the operation instead of becoming its result: code it here.
            error.extensions = {**(error.extensions or {}), "code": _SYNTAX_CODE}
            raise
        result = self.execution_context.result
        if isinstance(result, GraphQLExecutionResult | ExecutionResult) and result.errors:
            result.errors = [_shown(error) for error in result.errors]


_SYNTAX_CODE = _PublicCode.GRAPHQL_VALIDATION_FAILED.value


def _shown(error: GraphQLError) -> GraphQLError:
    code = public_code(error)
    if code is None:
        return GraphQLError(
            "Internal server error; it has been logged.",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": _PublicCode.INTERNAL_SERVER_ERROR.value},
        )
    error.extensions = {**(error.extensions or {}), "code": code.value}
    return error


def log_unexpected(errors: list[GraphQLError]) -> None:
    """Log bugs with their traceback; expected top-level errors are not worth a stack."""
    for error in errors:
        if public_code(error) is None:
            log.error("GraphQL resolver failed: %s", error.message, exc_info=error.original_error)
