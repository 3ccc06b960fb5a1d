"""schema/schema.graphql is printed from the code; a stale copy fails here."""

from pathlib import Path

import graphql
import pytest

from ferryman.resolvers.schema import build_schema
from tests.support import documents

SCHEMA_FILE = Path(__file__).parent.parent / "schema" / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text() == build_schema().as_str() + "\n", (
        "schema/schema.graphql is stale: run `ferryman export-schema --output "
        "schema/schema.graphql` and commit it"
    )


def test_schema_has_the_agreed_names() -> None:
    sdl = SCHEMA_FILE.read_text()
    for name in [
        "viewer: Viewer!",
        "node(id: ID!): Node",
        "apps(first: Int = null, after: String = null)",
        "appCreate(input: AppCreateInput!): AppCreatePayload!",
        "releasePublish(id: ID!): ReleasePublishPayload!",
        "apiKeyCreate(input: ApiKeyCreateInput!): ApiKeyCreatePayload!",
        "enum ReleaseStatus",
        "enum ApiKeyScope",
    ]:
        assert name in sdl, name


SHARED = {
    name: value
    for name, value in vars(documents).items()
    if name.isupper()
    and isinstance(value, str)
    and value.lstrip().startswith(("query", "mutation"))
}


@pytest.mark.parametrize("name", sorted(SHARED))
def test_the_documents_tests_share_are_valid(name: str) -> None:
    """A shared document that no longer fits the schema fails here, not in every test."""
    schema = graphql.build_schema(SCHEMA_FILE.read_text())
    assert graphql.validate(schema, graphql.parse(SHARED[name])) == []
