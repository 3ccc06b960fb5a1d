"""What a GraphQL document may cost before it is validated.

graphql-core's validation compares, pairwise, every two fields that land on the same key of
the result (the OverlappingFieldsCanBeMerged rule), so its work grows with the square of
the fields selected at one place: fourteen kilobytes of ``apps { totalCount }`` repeated
cost seconds, under every limit that validation itself checks (depth, aliases). A budget
is measured first, on the parsed document, by one walk that expands fragments where they
are spread and merges fields the way execution does (``a { x } a { y }`` is ``a`` twice
and ``a.x``, ``a.y`` once each). The walk stops at the first limit it exceeds, so refusing
a document costs at most the budget, however far its fragments would fan out; a fragment
is not expanded inside itself (validation names the cycle).
"""

from __future__ import annotations

import dataclasses

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

SELECTIONS_SETTING = "FERRYMAN_GRAPHQL_MAX_SELECTIONS"
REPEATS_SETTING = "FERRYMAN_GRAPHQL_MAX_REPEATS"


class _Place:
    """One key of the result (``apps``, ``apps.edges``...): how often it is selected, and
    how many fragments are spread there."""

    __slots__ = ("count", "keys", "name", "parent", "spreads")

    def __init__(self, name: str = "", parent: _Place | None = None) -> None:
        self.name = name
        self.parent = parent
        self.count = 0
        self.spreads = 0
        self.keys: dict[str, _Place] = {}

    def key(self, name: str) -> _Place:
        place = self.keys.get(name)
        if place is None:
            place = self.keys[name] = _Place(name, self)
        return place

    @property
    def path(self) -> str:
        names: list[str] = []
        place: _Place | None = self
        while place is not None and place.parent is not None:
            names.append(place.name)
            place = place.parent
        return ".".join(reversed(names))


# A selection set to walk at a place of the result; a fragment to expand there (its name);
# or a fragment whose expansion is over once the walk comes back to it.
_Walk = tuple[SelectionSetNode, _Place]
_Enter = tuple[str, _Place]
_Step = _Walk | _Enter | str


@dataclasses.dataclass(frozen=True, slots=True)
class Budget:
    """The most a document may select: ``selections`` in all (fields, fragment spreads and
    inline fragments, counted with fragments expanded, over every operation and fragment
    of the document); and, at one place of the result, ``repeats`` fields of one key and
    ``repeats`` fragment spreads."""

    selections: int
    repeats: int

    def refusal(self, document: DocumentNode) -> GraphQLError | None:
        """The error that refuses ``document``, or None when it is within the budget."""
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        spent = 0
        for definition in document.definitions:
            if not isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
                continue
            # Depth first, on a stack of its own (documents nest deeper than Python recurses);
            # ``active`` holds the fragments being expanded around the current step.
            active: set[str] = set()
            if isinstance(definition, FragmentDefinitionNode):
                active.add(definition.name.value)
            stack: list[_Step] = [(definition.selection_set, _Place())]
            while stack:
                step = stack.pop()
                if isinstance(step, str):
                    active.discard(step)
                    continue
                target, place = step
                if isinstance(target, str):
                    fragment = fragments.get(target)
                    if fragment is not None and target not in active:
                        active.add(target)
                        stack.append(target)
                        stack.append((fragment.selection_set, place))
                    continue
                for selection in target.selections:
                    spent += 1
                    if spent > self.selections:
                        return self._too_many()
                    if isinstance(selection, FieldNode):
                        at = place.key((selection.alias or selection.name).value)
                        at.count += 1
                        if at.count > self.repeats:
                            return self._repeated(at)
                        if selection.selection_set is not None:
                            stack.append((selection.selection_set, at))
                    elif isinstance(selection, InlineFragmentNode):
                        stack.append((selection.selection_set, place))
                    elif isinstance(selection, FragmentSpreadNode):
                        place.spreads += 1
                        if place.spreads > self.repeats:
                            return self._spread_too_often(place)
                        stack.append((selection.name.value, place))
        return None

    def _too_many(self) -> GraphQLError:
        return GraphQLError(
            f"the document has more than {self.selections} selections (fields, fragment "
            "spreads and inline fragments, counted with each fragment expanded where it is "
            f"spread); the server's limit is {self.selections} ({SELECTIONS_SETTING})"
        )

    def _repeated(self, place: _Place) -> GraphQLError:
        return GraphQLError(
            f"`{place.path}` is selected more than {self.repeats} times (counted with "
            f"fragments expanded); the server's limit is {self.repeats} selections of one "
            f"key at one place of the result ({REPEATS_SETTING})"
        )

    def _spread_too_often(self, place: _Place) -> GraphQLError:
        where = f"at `{place.path}`" if place.parent is not None else "at the top level"
        return GraphQLError(
            f"more than {self.repeats} fragments are spread {where} (counted with fragments "
            f"expanded); the server's limit is {self.repeats} fragment spreads at one place of "
            f"the result ({REPEATS_SETTING})"
        )
