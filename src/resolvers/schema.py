"""The GraphQL schema: the root types composed from each domain, and the safety rails."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import strawberry
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import FieldNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from ferryman.models.ids import prefix_of
from ferryman.resolvers import (
    api_keys,
    apps,
    artifacts,
    audit_events,
    licenses,
    previews,
    releases,
    submissions,
)
from ferryman.resolvers.context import Context, Info
from ferryman.resolvers.errors import ErrorPolicy, log_unexpected
from ferryman.resolvers.node import Node
from ferryman.resolvers.scalars import SCALARS
from ferryman.settings import Settings

_NODE_GETTERS: dict[str, Callable[[Info, str], Awaitable[Node | None]]] = {
    "app": apps.get_node,
    "rel": releases.get_node,
    "art": artifacts.get_node,
    "key": api_keys.get_node,
    "evt": audit_events.get_node,
    "lic": licenses.get_node,
}


@strawberry.type
class Query(
    apps.AppQuery, api_keys.ApiKeyQuery, audit_events.AuditEventQuery, previews.PreviewQuery
):
    @strawberry.field(description="Any object by its id; null when it is not visible to you.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        getter = _NODE_GETTERS.get(prefix_of(id) or "")
        return None if getter is None else await getter(info, id)


@strawberry.type
class Mutation(
    apps.AppMutation,
    releases.ReleaseMutation,
    artifacts.ArtifactMutation,
    submissions.SubmissionMutation,
    api_keys.ApiKeyMutation,
    licenses.LicenseMutation,
):
    pass


class Authentication(SchemaExtension):
    """Refuse to execute anything for a caller without a valid key.

    Introspection alone is allowed (when enabled) so GraphiQL can show the docs before
    a key is pasted into its headers.
    """

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        assert isinstance(context, Context)
        if context.actor_or_none is None and not _introspection_only(self.execution_context):
            assert context.auth_error is not None
            message = str(context.auth_error)
            self.execution_context.result = GraphQLExecutionResult(
                data=None,
                errors=[GraphQLError(message, original_error=context.auth_error)],
            )
        yield


class OperationChoice(SchemaExtension):
    """A document of several operations must say which to run (GraphQL over HTTP), rather
    than have the first one run."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # What the request named; ``operation_name`` would fall back to the first one.
        named = getattr(context, "_provided_operation_name", None)
        if document is not None and named is None:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > 1:
                context.pre_execution_errors = [
                    GraphQLError(
                        f"the document has {len(operations)} operations: send operationName "
                        "to say which one to run"
                    )
                ]
        yield


class FerrymanSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_unexpected(errors)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with the query limits and introspection switch of ``settings``
    (defaults: the printed SDL does not depend on them)."""
    limits = settings or Settings()
    extensions: list[Callable[[], SchemaExtension]] = [
        ErrorPolicy,
        lambda: MaxTokensLimiter(max_token_count=limits.graphql_max_tokens),
        lambda: QueryDepthLimiter(max_depth=limits.graphql_max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=limits.graphql_max_aliases),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        OperationChoice,
        Authentication,
    ]
    if not limits.introspection_enabled:
        extensions.append(DisableIntrospection)
    return FerrymanSchema(
        query=Query,
        mutation=Mutation,
        types=[
            apps.App,
            releases.Release,
            artifacts.Artifact,
            api_keys.ApiKey,
            audit_events.AuditEvent,
            licenses.License,
        ],
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
    )


def _introspection_only(execution_context: ExecutionContext) -> bool:
    document = execution_context.graphql_document
    if document is None:
        return False
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            for selection in definition.selection_set.selections:
                if not (isinstance(selection, FieldNode) and selection.name.value.startswith("__")):
                    return False
    return True
