"""Schemathesis hooks for ``scripts/fuzz`` (loaded through ``tests/fuzz.toml``).

- Strategies for the GraphQL scalars Schemathesis cannot know: ``ByteCount`` (a JSON
  number) and ``Upload`` (a file part of a multipart request; a JSON request can still put
  any literal there, and the server must refuse it cleanly).
- ``ferryman_graphql_errors``, a check of Ferryman's documented error contract (README, "The
  GraphQL API"): top-level errors are only ``UNAUTHENTICATED``, ``FORBIDDEN``,
  ``BAD_USER_INPUT``, ``GRAPHQL_VALIDATION_FAILED`` (and ``RATE_LIMITED`` with a 429, which
  the fuzzing server does not impose); ``INTERNAL_SERVER_ERROR`` is a bug
  and ``SERVICE_UNAVAILABLE`` an outage, which the fuzzing setup never has. Schemathesis's
  own ``not_a_server_error`` counts any error raised by a resolver as a server error, so it
  also flags a CI key's ``FORBIDDEN`` — the very answer that run expects. That run uses this
  check in its place; the admin run uses both.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes
from schemathesis.specs.graphql.schemas import GraphQLSchema

EXPECTED_CODES = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "BAD_USER_INPUT",
        "GRAPHQL_VALIDATION_FAILED",
        "RATE_LIMITED",  # with HTTP 429; the fuzzing server runs without limits
    }
)

schemathesis.graphql.scalar(
    "ByteCount", st.integers(min_value=-(2**64), max_value=2**64).map(nodes.Int)
)
schemathesis.graphql.scalar(
    "Upload", st.one_of(st.text(max_size=64).map(nodes.String), st.integers().map(nodes.Int))
)


@schemathesis.check
def ferryman_graphql_errors(ctx: Any, response: Any, case: Any) -> None:
    """GraphQL answers carry no 5xx and only the top-level error codes Ferryman documents."""
    if not isinstance(case.operation.schema, GraphQLSchema):
        return
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.content[:500]!r}")
    try:
        payload = json.loads(response.content)
    except ValueError:
        if response.status_code == 200:
            body = response.content[:500]
            raise AssertionError(f"HTTP 200 with a body that is not JSON: {body!r}") from None
        return  # a plain-text 4xx from the HTTP layer (a malformed request) is fine
    if not isinstance(payload, dict):
        raise AssertionError(f"the answer is not a JSON object: {response.content[:500]!r}")
    for error in payload.get("errors") or []:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        if code not in EXPECTED_CODES:
            raise AssertionError(
                f"top-level error with code {code!r} (expected one of "
                f"{', '.join(sorted(EXPECTED_CODES))}): {json.dumps(error)[:500]}"
            )
