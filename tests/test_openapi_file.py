"""schema/openapi.yaml describes every plain-HTTP route the app serves, with its methods,
and no route it does not serve: a route added without its description fails here."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from starlette.routing import Route

from ferryman.app import create_app
from ferryman.graphiql import MOUNT
from ferryman.settings import Settings

OPENAPI = Path(__file__).parent.parent / "schema" / "openapi.yaml"
METHODS = {"get", "put", "post", "patch", "delete"}


def test_every_route_is_described_with_its_methods() -> None:
    app = create_app(Settings(s3_endpoint="http://127.0.0.1:9"))
    served = {
        # A typed segment ({artifact_id:artifact}) is described by its name alone.
        re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path): set(route.methods or ()) - {"HEAD"}
        for route in app.routes
        # GraphQL is described by schema/schema.graphql; GraphiQL's files are its page's.
        if isinstance(route, Route)
        and route.path != "/graphql"
        and not route.path.startswith(MOUNT)
    }
    document = yaml.safe_load(OPENAPI.read_text())
    described = {
        path: {method.upper() for method in item if method in METHODS}
        for path, item in document["paths"].items()
    }
    assert served == described
