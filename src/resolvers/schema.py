"""The GraphQL schema: the root types composed from each domain, and the safety rails."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
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
    signing_keys,
    submissions,
    webhooks,
)
from ferryman.resolvers.budget import Budget
from ferryman.resolvers.context import Context, Info
from ferryman.resolvers.errors import ErrorPolicy, log_unexpected
from ferryman.resolvers.node import Node
from ferryman.resolvers.scalars import BYTE_COUNT, COUNT, ByteCount, Count
from ferryman.settings import Settings

_NODE_GETTERS: dict[str, Callable[[Info, str], Awaitable[Node | None]]] = {
    "app": apps.get_node,
    "rel": releases.get_node,
    "art": artifacts.get_node,
    "key": api_keys.get_node,
    "evt": audit_events.get_node,
    "lic": licenses.get_node,
    "whk": webhooks.get_node,
    "dlv": webhooks.get_delivery_node,
    "sgk": signing_keys.get_node,
}


@strawberry.type
class Query(
    apps.AppQuery,
    api_keys.ApiKeyQuery,
    audit_events.AuditEventQuery,
    previews.PreviewQuery,
    webhooks.WebhookQuery,
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
    webhooks.WebhookMutation,
    signing_keys.SigningKeyMutation,
):
    pass


@dataclasses.dataclass(slots=True)
class Seen:
    """A parsed document and what is known of it, kept by its text."""

    document: DocumentNode
    refusal: GraphQLError | None  # over the budget
    introspection_only: bool
    operations: int
    errors: tuple[GraphQLError, ...] | None = None  # validation's answer, once it is known

    @classmethod
    def of(cls, document: DocumentNode, budget: Budget) -> Seen:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        return cls(
            document,
            budget.refusal(document),
            introspection_only=_introspection_only(operations),
            operations=len(operations),
        )


class _Recent:
    """The most recently used documents, at most ``count`` of them and ``chars`` of text."""

    def __init__(self, count: int, chars: int) -> None:
        self.count = count
        self.chars = chars
        self.held = 0
        self.entries: OrderedDict[str, Seen] = OrderedDict()

    def get(self, text: str) -> Seen | None:
        seen = self.entries.get(text)
        if seen is not None:
            self.entries.move_to_end(text)
        return seen

    def put(self, text: str, seen: Seen) -> None:
        if len(text) > self.chars or text in self.entries:
            return
        self.entries[text] = seen
        self.held += len(text)
        while len(self.entries) > self.count or self.held > self.chars:
            evicted, _ = self.entries.popitem(last=False)
            self.held -= len(evicted)


class Documents:
    """Documents already parsed, measured and validated, by their text: a repeated query
    costs one lookup. Callers with a key and callers without one have a cache each, so a
    caller without a key can only evict (and only add to) the other callers' without one.
    An entry holds only what follows from the text and this schema, never who sent it."""

    def __init__(self) -> None:
        self.known = _Recent(count=256, chars=1024 * 1024)
        self.anonymous = _Recent(count=16, chars=64 * 1024)

    def of(self, context: Context) -> _Recent:
        return self.known if context.actor_or_none is not None else self.anonymous


class Admission(SchemaExtension):
    """What a document must pass between parsing and execution, cheapest first, so that
    nothing costlier than a walk of the budget is spent on a document that is refused:

    1. the budget (selections and repeats, for every caller);
    2. a valid key: without one, the document must be introspection alone (GraphiQL loads
       the docs before a key is pasted into its headers), or it is refused unvalidated;
    3. a document of several operations must say which to run (GraphQL over HTTP), rather
       than have the first one run;
    4. validation, answered from the cache when the document was validated before.

    Strawberry runs ``on_parse`` around parsing and ``on_validate`` around validation, which
    it skips when a hook has set ``pre_execution_errors`` before yielding; this extension
    must come after every other that touches those errors, as it caches what it finds.
    """

    def __init__(self, budget: Budget, documents: Documents) -> None:
        self.budget = budget
        self.documents = documents
        self.seen: Seen | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        assert isinstance(context.context, Context)
        recent = self.documents.of(context.context)
        text = context.query
        seen = recent.get(text) if text is not None else None
        if seen is not None:
            context.graphql_document = seen.document  # Strawberry does not parse it again
        yield
        if seen is None and context.graphql_document is not None:
            seen = Seen.of(context.graphql_document, self.budget)
            if text is not None:
                recent.put(text, seen)
        self.seen = seen

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        caller = context.context
        assert isinstance(caller, Context)
        seen = self.seen
        if seen is None:  # a document Strawberry was handed already parsed
            assert context.graphql_document is not None
            seen = Seen.of(context.graphql_document, self.budget)
        validating = False
        if seen.refusal is not None:
            context.pre_execution_errors = [seen.refusal]
        elif caller.actor_or_none is None and not seen.introspection_only:
            assert caller.auth_error is not None
            error = caller.auth_error
            context.pre_execution_errors = [GraphQLError(str(error), original_error=error)]
        elif seen.operations > 1 and getattr(context, "_provided_operation_name", None) is None:
            # ``operation_name`` would fall back to the first operation: ask what was sent.
            context.pre_execution_errors = [
                GraphQLError(
                    f"the document has {seen.operations} operations: send operationName "
                    "to say which one to run"
                )
            ]
        elif seen.errors is not None:
            context.pre_execution_errors = list(seen.errors)
        else:
            validating = context.pre_execution_errors is None
        yield
        if validating and context.pre_execution_errors is not None:
            seen.errors = tuple(context.pre_execution_errors)


class FerrymanSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_unexpected(errors)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with the query limits and introspection switch of ``settings``
    (defaults: the printed SDL does not depend on them)."""
    limits = settings or Settings()
    budget = Budget(selections=limits.graphql_max_selections, repeats=limits.graphql_max_repeats)
    documents = Documents()
    # The rules are made once: a fresh class per request would make every validation new.
    rules = [
        *QueryDepthLimiter(max_depth=limits.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits.graphql_max_aliases).validation_rules,
    ]
    if not limits.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list[Callable[[], SchemaExtension]] = [
        ErrorPolicy,
        lambda: MaxTokensLimiter(max_token_count=limits.graphql_max_tokens),
        lambda: AddValidationRules(rules),
        lambda: Admission(budget, documents),  # last: see its docstring
    ]
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
            webhooks.Webhook,
            webhooks.Delivery,
        ],
        extensions=extensions,
        config=StrawberryConfig(scalar_map={ByteCount: BYTE_COUNT, Count: COUNT}),
    )


def _introspection_only(operations: list[OperationDefinitionNode]) -> bool:
    """Whether there are operations and each selects only introspection fields (``__schema``,
    ``__type``, ``__typename``) at its top level; a fragment there could select anything."""
    return bool(operations) and all(
        isinstance(selection, FieldNode) and selection.name.value.startswith("__")
        for operation in operations
        for selection in operation.selection_set.selections
    )
