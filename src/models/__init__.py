"""Tortoise models and the domain rules on them.

Every write that both doors (GraphQL and REST) need lives here once, as a function that
checks the caller's rights, validates, changes rows in one transaction and audits it.
"""

from ferryman.models.api_key import ApiKey
from ferryman.models.app import App
from ferryman.models.artifact import Artifact
from ferryman.models.audit_event import AuditEvent
from ferryman.models.daily_key import DailyKey
from ferryman.models.edge_purge import EdgePurge
from ferryman.models.health import HealthCount, HealthGate, HealthMark, HealthState
from ferryman.models.license import CoveragePeriod, License
from ferryman.models.notification import Delivery, Notification
from ferryman.models.ramp import Ramp, RampStep
from ferryman.models.release import Release
from ferryman.models.session import Session
from ferryman.models.signing_key import SigningKey
from ferryman.models.usage import ActiveCount, CheckCount, DownloadCount, SketchCount
from ferryman.models.user import Grant, User
from ferryman.models.webhook import Webhook

__all__ = [
    "ActiveCount",
    "ApiKey",
    "App",
    "Artifact",
    "AuditEvent",
    "CheckCount",
    "CoveragePeriod",
    "DailyKey",
    "Delivery",
    "DownloadCount",
    "EdgePurge",
    "Grant",
    "HealthCount",
    "HealthGate",
    "HealthMark",
    "HealthState",
    "License",
    "Notification",
    "Ramp",
    "RampStep",
    "Release",
    "Session",
    "SigningKey",
    "SketchCount",
    "User",
    "Webhook",
]
