from tests.conftest import GraphQL


async def test_admin_creates_app(gql: GraphQL, admin_key: str) -> None:
    result = await gql(
        'mutation { appCreate(input: {slug: "my-app", name: "My App"}) '
        "{ app { slug } userErrors { code } } }",
        key=admin_key,
    )
    assert result["data"]["appCreate"] == {"app": {"slug": "my-app"}, "userErrors": []}
