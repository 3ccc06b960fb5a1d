"""GraphQL from the console: the signed-in person's session stands in for an API key,
and only together with the CSRF token that GraphiQL sends as a header.

The GraphiQL page itself is driven in ``tests/test_graphiql.py`` (it needs the installed
assets of a real ``ferryman dev``); here the endpoint's rules are tried one by one.
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import APIResponse, Page

from ferryman.models import App, AuditEvent
from ferryman.models.actor import Role
from tests.console.conftest import Person, add_person, sign_in

APPS = "{ apps(first: 5) { edges { node { slug } } } }"
CREATE = 'mutation { appCreate(input: {slug: "from-console", name: "From the console"}) '
CREATE += "{ app { slug } userErrors { code message } } }"


async def post(page: Page, document: str, headers: dict[str, str]) -> APIResponse:
    return await page.request.post("/console/graphql", data={"query": document}, headers=headers)


async def token_of(page: Page) -> str:
    """The token GraphiQL reads: the cookie the page sets on its own path."""
    await page.goto("/console/graphql", wait_until="commit")
    cookies = await page.context.cookies()
    return next(c["value"] for c in cookies if c["name"] == "csrftoken")


def errors_of(body: dict[str, Any]) -> str:
    return " ".join(error["message"] for error in body.get("errors", []))


async def test_the_session_and_its_token_act_as_the_person(page: Page, owner: Person) -> None:
    await sign_in(page, owner)
    token = await token_of(page)
    origin = page.url.split("/console")[0]
    cookie = next(c for c in await page.context.cookies() if c["name"] == "csrftoken")
    assert (cookie["path"], cookie["sameSite"], cookie["httpOnly"]) == (
        "/console/graphql",
        "Strict",
        False,
    )

    answer = await post(page, CREATE, {"x-csrftoken": token, "Origin": origin})
    body = await answer.json()
    assert body["data"]["appCreate"]["userErrors"] == [], body
    event = await AuditEvent.get(action="app.create")
    assert event.user_id == owner.user.id
    assert event.key_id is None


async def test_without_the_token_or_from_elsewhere_nothing_runs(page: Page, owner: Person) -> None:
    await sign_in(page, owner)
    token = await token_of(page)
    origin = page.url.split("/console")[0]
    tries = {
        "no header": {"Origin": origin},
        "wrong token": {"x-csrftoken": "x" * len(token), "Origin": origin},
        "another site": {"x-csrftoken": token, "Origin": "https://attacker.example"},
        "a cross-site fetch": {"x-csrftoken": token, "Sec-Fetch-Site": "cross-site"},
    }
    for name, headers in tries.items():
        body = await (await post(page, CREATE, headers)).json()
        assert body.get("data") in (None, {"appCreate": None}), name
        assert "csrf" in errors_of(body).lower() or "site" in errors_of(body), (name, body)
    assert not await App.filter(slug="from-console").exists()

    await page.context.clear_cookies()
    body = await (await post(page, APPS, {"x-csrftoken": token, "Origin": origin})).json()
    assert "sign in" in errors_of(body), body


async def test_a_viewer_reads_through_graphql_and_changes_nothing(
    page: Page, owner: Person
) -> None:
    viewer = await add_person("viewer@example.com", Role.VIEWER)
    await sign_in(page, viewer)
    token = await token_of(page)
    origin = page.url.split("/console")[0]
    headers = {"x-csrftoken": token, "Origin": origin}
    read = await (await post(page, APPS, headers)).json()
    assert read["data"] == {"apps": {"edges": []}}, read
    body = await (await post(page, CREATE, headers)).json()
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"], body
    assert "viewers change nothing" in errors_of(body)
    assert not await App.filter(slug="from-console").exists()


async def test_signed_out_the_page_sends_people_to_sign_in(page: Page) -> None:
    await page.goto("/console/graphql")
    assert "/console/sign-in?next=%2Fconsole%2Fgraphql" in page.url
