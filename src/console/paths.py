"""Where the console lives: one reserved first path segment (no app slug can take it)."""

from __future__ import annotations

MOUNT = "/console"
HOME = f"{MOUNT}/apps"
SIGN_IN = f"{MOUNT}/sign-in"
STATIC = f"{MOUNT}/static"
GRAPHQL = f"{MOUNT}/graphql"


def welcome_path(secret: str) -> str:
    """The page a one-time sign-in link opens, where the person chooses a password."""
    return f"{MOUNT}/welcome/{secret}"


def is_local(target: str) -> bool:
    """Whether ``target`` (a ``next`` parameter) is a console page of this server, so a
    redirect there cannot leave it."""
    return target.startswith(MOUNT + "/") and not target.startswith("//") and "\\" not in target
