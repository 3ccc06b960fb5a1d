"""The GraphQL documents tests send, each declared once.

What CI and ``ferryman publish`` send lives in ``schema/operations`` (it ships with the
publish client) and is loaded with :func:`operation`; tests that need only what those
select use them. The documents below are the others that tests share; each selects what
its tests read.
"""

from __future__ import annotations

from functools import cache

from ferryman import publisher


@cache
def operation(name: str) -> str:
    """The document of ``schema/operations/<name>.graphql``, as the publish client sends it."""
    return publisher.operation(name)


USER_ERRORS = "userErrors { field message code }"

VIEWER = "{ viewer { id name scope app { id slug } } }"
APPS = "{ apps { totalCount } }"
NODE = "query ($id: ID!) { node(id: $id) { id } }"

APP_CREATE = f"""
mutation ($input: AppCreateInput!) {{
  appCreate(input: $input) {{
    app {{
      id slug name description publicKey channels createdAt updatedAt releaseCount
      latestVersion
    }}
    {USER_ERRORS}
  }}
}}
"""

APP_UPDATE = f"""
mutation ($id: ID!, $input: AppUpdateInput!) {{
  appUpdate(id: $id, input: $input) {{
    app {{ id slug name description publicKey requireSignedVersion updatedAt }}
    {USER_ERRORS}
  }}
}}
"""

APP_DELETE = f"""
mutation ($id: ID!) {{
  appDelete(id: $id) {{ deletedAppId {USER_ERRORS} }}
}}
"""

RELEASE_CREATE = f"""
mutation ($appId: ID!, $input: ReleaseCreateInput!) {{
  releaseCreate(appId: $appId, input: $input) {{
    release {{ id version notes channel status pubDate }}
    {USER_ERRORS}
  }}
}}
"""

RELEASE_ARCHIVE = f"""
mutation ($id: ID!) {{
  releaseArchive(id: $id) {{
    release {{ id version status pubDate }}
    {USER_ERRORS}
  }}
}}
"""

RELEASE_DELETE = f"""
mutation ($id: ID!) {{
  releaseDelete(id: $id) {{ deletedReleaseId {USER_ERRORS} }}
}}
"""

RELEASE_ROLLOUT = f"""
mutation ($id: ID!, $percent: Int!) {{
  releaseRollout(id: $id, percent: $percent) {{
    release {{ id rolloutPercent status }}
    {USER_ERRORS}
  }}
}}
"""

ROLLOUT_SCHEDULE = """
rolloutSchedule {
  reached finished paused pausedAt pausedBy pauseReason
  steps { position percent notBefore reachedAt }
  nextStep { position percent notBefore }
}
"""

RELEASE_ROLLOUT_SCHEDULE = f"""
mutation (
  $id: ID!, $steps: [RampStepInput!], $preset: RampPreset, $start: DateTime, $reason: String
) {{
  releaseRolloutSchedule(id: $id, steps: $steps, preset: $preset, start: $start, reason: $reason) {{
    release {{ id rolloutPercent {ROLLOUT_SCHEDULE} }}
    {USER_ERRORS}
  }}
}}
"""

RELEASE_ROLLOUT_PAUSE = f"""
mutation ($id: ID!, $reason: String!) {{
  releaseRolloutPause(id: $id, reason: $reason) {{
    release {{ id rolloutPercent {ROLLOUT_SCHEDULE} }}
    {USER_ERRORS}
  }}
}}
"""

RELEASE_ROLLOUT_RESUME = f"""
mutation ($id: ID!) {{
  releaseRolloutResume(id: $id) {{
    release {{ id rolloutPercent {ROLLOUT_SCHEDULE} }}
    {USER_ERRORS}
  }}
}}
"""

RELEASE_ROLLOUT_SCHEDULE_CANCEL = f"""
mutation ($id: ID!) {{
  releaseRolloutScheduleCancel(id: $id) {{
    release {{ id rolloutPercent {ROLLOUT_SCHEDULE} }}
    {USER_ERRORS}
  }}
}}
"""

RELEASE_SCHEDULE = f"""
query ($id: ID!) {{
  node(id: $id) {{ ... on Release {{ id rolloutPercent {ROLLOUT_SCHEDULE} }} }}
}}
"""

RELEASE_YANK = f"""
mutation ($id: ID!, $reason: String!) {{
  releaseYank(id: $id, reason: $reason) {{
    release {{ id status yankedAt yankReason pubDate }}
    {USER_ERRORS}
  }}
}}
"""

RELEASE_ROLLBACK = f"""
mutation ($appId: ID!, $channel: String!, $reason: String) {{
  releaseRollback(appId: $appId, channel: $channel, reason: $reason) {{
    yanked {{ id version status yankedAt yankReason }}
    offered {{ id version status rolloutPercent }}
    {USER_ERRORS}
  }}
}}
"""

RELEASE_SET_COVERAGE_DATE = f"""
mutation ($id: ID!, $coverageDate: DateTime, $reason: String!) {{
  releaseSetCoverageDate(id: $id, coverageDate: $coverageDate, reason: $reason) {{
    release {{ id pubDate coverageDate effectiveDate }}
    {USER_ERRORS}
  }}
}}
"""

RELEASE_UPDATE = f"""
mutation ($id: ID!, $input: ReleaseUpdateInput!) {{
  releaseUpdate(id: $id, input: $input) {{
    release {{ id version notes status }}
    {USER_ERRORS}
  }}
}}
"""

ARTIFACT = """
  id platform filename signature objectKey status fileSize checksum downloadUrl
  failureReason warning signedVersion release { id status }
"""

ARTIFACT_UPLOAD_CREATE = f"""
mutation ($releaseId: ID!, $input: ArtifactUploadCreateInput!) {{
  artifactUploadCreate(releaseId: $releaseId, input: $input) {{
    artifact {{ {ARTIFACT} }}
    uploadUrl uploadHeaders {{ name value }} expiresIn
    {USER_ERRORS}
  }}
}}
"""

ARTIFACT_UPLOAD_CONFIRM = f"""
mutation ($id: ID!) {{
  artifactUploadConfirm(id: $id) {{
    artifact {{ {ARTIFACT} }}
    {USER_ERRORS}
  }}
}}
"""

ARTIFACT_UPLOAD = f"""
mutation ($releaseId: ID!, $platform: String!, $signature: String!, $file: Upload!) {{
  artifactUpload(releaseId: $releaseId, platform: $platform, signature: $signature, file: $file) {{
    artifact {{ {ARTIFACT} }}
    {USER_ERRORS}
  }}
}}
"""

ARTIFACT_DELETE = f"""
mutation ($id: ID!) {{
  artifactDelete(id: $id) {{ deletedArtifactId {USER_ERRORS} }}
}}
"""

CI_RELEASE_SUBMIT = f"""
mutation ($slug: String!, $input: CiReleaseSubmitInput!) {{
  ciReleaseSubmit(appSlug: $slug, input: $input) {{
    release {{
      id version channel status
      artifacts {{ id platform status failureReason checksum objectKey }}
    }}
    created published notice
    {USER_ERRORS}
  }}
}}
"""

API_KEY_CREATE = f"""
mutation ($input: ApiKeyCreateInput!) {{
  apiKeyCreate(input: $input) {{
    secret
    apiKey {{ id name scope prefix lastUsedAt revokedAt app {{ id slug }} }}
    {USER_ERRORS}
  }}
}}
"""

API_KEY_REVOKE = f"""
mutation ($id: ID!) {{
  apiKeyRevoke(id: $id) {{ apiKey {{ id revokedAt }} {USER_ERRORS} }}
}}
"""

LICENSE = """
  id prefix customer status statusReason createdAt updatedAt expiresAt
  periods { startsAt endsAt }
  app { id slug }
"""

LICENSE_CREATE = f"""
mutation ($input: LicenseCreateInput!) {{
  licenseCreate(input: $input) {{
    key
    license {{ {LICENSE} }}
    {USER_ERRORS}
  }}
}}
"""

LICENSE_RENEW = f"""
mutation ($id: ID!, $startsAt: DateTime, $endsAt: DateTime) {{
  licenseRenew(id: $id, startsAt: $startsAt, endsAt: $endsAt) {{
    license {{ {LICENSE} }}
    {USER_ERRORS}
  }}
}}
"""

LICENSE_SUSPEND = f"""
mutation ($id: ID!, $reason: String) {{
  licenseSuspend(id: $id, reason: $reason) {{
    license {{ id status statusReason }}
    {USER_ERRORS}
  }}
}}
"""

LICENSE_REACTIVATE = f"""
mutation ($id: ID!) {{
  licenseReactivate(id: $id) {{
    license {{ id status statusReason }}
    {USER_ERRORS}
  }}
}}
"""

LICENSE_REVOKE = f"""
mutation ($id: ID!, $reason: String) {{
  licenseRevoke(id: $id, reason: $reason) {{
    license {{ id status statusReason }}
    {USER_ERRORS}
  }}
}}
"""

SIGNING_KEY_ADD = f"""
mutation ($appId: ID!, $publicKey: String!) {{
  appSigningKeyAdd(appId: $appId, publicKey: $publicKey) {{
    signingKey {{ id keyId state }}
    {USER_ERRORS}
  }}
}}
"""

SIGNING_KEY_RETIRE = f"""
mutation ($id: ID!) {{
  appSigningKeyRetire(id: $id) {{ signingKey {{ id state retiredAt }} {USER_ERRORS} }}
}}
"""

RELEASE_BRIDGE_SET = f"""
mutation ($id: ID!, $key: ID) {{
  releaseBridgeSet(id: $id, signingKeyId: $key) {{
    release {{ id version bridgeTo {{ keyId }} }}
    {USER_ERRORS}
  }}
}}
"""

HEALTH = """
  healthGate {
    maxFailureRate minCrashFreeRate minSample intervalMinutes failureLimit nextEvaluationAt
  }
  health {
    platform attempts failed arrived failureRate sessions crashed crashFreeRate
    halted haltedAt haltReason liftedAt liftReason
  }
"""

RELEASE_HEALTH_GATE_SET = f"""
mutation ($id: ID!, $input: HealthGateInput!) {{
  releaseHealthGateSet(id: $id, input: $input) {{
    release {{ id {HEALTH} }}
    {USER_ERRORS}
  }}
}}
"""

RELEASE_HEALTH_GATE_REMOVE = f"""
mutation ($id: ID!) {{
  releaseHealthGateRemove(id: $id) {{
    release {{ id {HEALTH} }}
    {USER_ERRORS}
  }}
}}
"""

RELEASE_HALT_LIFT = f"""
mutation ($id: ID!, $platform: String!, $reason: String!) {{
  releaseHaltLift(id: $id, platform: $platform, reason: $reason) {{
    release {{ id {HEALTH} }}
    {USER_ERRORS}
  }}
}}
"""

RELEASE_HEALTH = f"""
query ($id: ID!) {{ node(id: $id) {{ ... on Release {{ id {HEALTH} }} }} }}
"""

UPDATE_PREVIEW = """
query (
  $appId: ID!, $target: String!, $arch: String, $current: String!,
  $bundle: String, $channel: String, $installId: String, $licenseKey: String
) {
  updatePreview(
    appId: $appId, target: $target, arch: $arch, currentVersion: $current, bundleType: $bundle,
    channel: $channel, installId: $installId, licenseKey: $licenseKey
  ) {
    status platformKey servedKey notes manifest refusal trustedKeyId
    offered { version }
    skipped { release { version status } reason detail }
  }
}
"""

WEBHOOK = """
  id kind url recipients events maxInFlight enabled disabledReason previousSecretUntil
  createdAt updatedAt app { id slug }
"""

DELIVERY = """
  id notificationId eventType status attempts nextAttemptAt lastAttemptAt lastStatusCode
  lastError createdAt payload webhook { id }
"""

WEBHOOK_CREATE = f"""
mutation ($input: WebhookCreateInput!) {{
  webhookCreate(input: $input) {{
    secret
    webhook {{ {WEBHOOK} }}
    {USER_ERRORS}
  }}
}}
"""

WEBHOOK_UPDATE = f"""
mutation ($input: WebhookUpdateInput!) {{
  webhookUpdate(input: $input) {{
    webhook {{ {WEBHOOK} }}
    {USER_ERRORS}
  }}
}}
"""

WEBHOOK_ROTATE_SECRET = f"""
mutation ($id: ID!) {{
  webhookRotateSecret(input: {{id: $id}}) {{
    secret
    webhook {{ {WEBHOOK} }}
    {USER_ERRORS}
  }}
}}
"""

WEBHOOK_DELETE = f"""
mutation ($id: ID!) {{
  webhookDelete(input: {{id: $id}}) {{ deletedWebhookId {USER_ERRORS} }}
}}
"""

WEBHOOK_TEST = f"""
mutation ($id: ID!) {{
  webhookTest(input: {{id: $id}}) {{
    delivery {{ {DELIVERY} }}
    {USER_ERRORS}
  }}
}}
"""

DELIVERY_REPLAY = f"""
mutation ($id: ID!) {{
  deliveryReplay(input: {{id: $id}}) {{
    delivery {{ {DELIVERY} }}
    {USER_ERRORS}
  }}
}}
"""
