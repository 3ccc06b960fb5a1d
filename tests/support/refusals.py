"""What a refusal looks like at each door: GraphQL's top-level errors and userErrors, and
REST's ``{"error": {"code", "message"}}`` with a documented status."""

from __future__ import annotations

from typing import Any

import httpx

MESSAGE_MAX = 1_000  # an error says what was wrong; it does not echo a megabyte back

# REST: the code that goes with each documented status.
REST_CODES = {
    400: "INVALID_INPUT",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    413: "TOO_LARGE",
}


def top_error(result: dict[str, Any], code: str) -> dict[str, Any]:
    """The single top-level error of ``result``, after checking its code."""
    errors = result.get("errors")
    assert errors, result
    assert len(errors) == 1, errors
    error: dict[str, Any] = errors[0]
    assert error["extensions"]["code"] == code, error
    return error


def user_error(payload: dict[str, Any], code: str, field: list[str] | None) -> str:
    """The single user error of a mutation payload, after checking code and field."""
    assert len(payload["userErrors"]) == 1, payload
    error = payload["userErrors"][0]
    assert error["code"] == code, error
    assert error["field"] == field, error
    message: str = error["message"]
    assert message, error
    return message


def useful(message: object) -> str:
    """An error message that says something, and not at length."""
    assert isinstance(message, str), message
    assert message.strip(), "the error message is empty"
    assert len(message) <= MESSAGE_MAX, f"the message echoes {len(message)} characters back"
    return message


def assert_rest_refusal(response: httpx.Response, statuses: tuple[int, ...]) -> None:
    """A 4xx of ``statuses`` whose JSON body is one coded error that says something."""
    detail = f"{response.status_code} {response.headers.get('content-type')} {response.text[:300]}"
    assert response.status_code in statuses, detail
    assert response.headers.get("content-type", "").startswith("application/json"), detail
    body = response.json()
    assert isinstance(body, dict), detail
    assert set(body) == {"error"}, detail
    error = body["error"]
    assert isinstance(error, dict), detail
    assert isinstance(error.get("code"), str), detail
    assert error["code"], detail
    documented = REST_CODES.get(response.status_code)
    assert documented is None or error["code"] == documented, detail
    useful(error.get("message"))
