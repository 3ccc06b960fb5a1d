"""The README's receiver snippet, run on a real delivery: it accepts what Ferryman signed,
refuses a body changed on the way, and takes a retried message once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ferryman.notifications.dispatcher import Dispatcher
from tests.notifications.conftest import LINUX, endpoint, send
from tests.support.receiver import Receiver
from tests.support.shipping import Shipyard

README = Path(__file__).resolve().parents[2] / "README.md"


def receiver_snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    (snippet,) = [block for block in blocks if "from standardwebhooks import" in block]
    return str(snippet)


async def test_the_readme_receiver_verifies_a_delivery_and_drops_a_repeat(
    yard: Shipyard, receiver: Receiver, dispatcher: Dispatcher, capsys: Any
) -> None:
    _, secret = await endpoint(receiver.url, yard.app_id)
    assert secret is not None
    await yard.release("1.0.0", LINUX)
    await send(dispatcher)
    (request,) = receiver.wait_for(1)

    snippet = receiver_snippet()
    assert snippet.count('"whsec_…"') == 1
    namespace: dict[str, Any] = {}
    exec(snippet.replace('"whsec_…"', repr(secret)), namespace)
    receive = namespace["receive"]

    assert receive(request.body, request.headers) == 204
    assert receive(request.body.replace(b"1.0.0", b"9.9.9"), request.headers) == 400
    assert receive(request.body, request.headers) == 204  # a retry: answered, not handled
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 1
    assert printed[0].startswith("release.published {'app': {")
