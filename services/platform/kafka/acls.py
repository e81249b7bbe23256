"""Kafka users (SCRAM credentials) and ACLs: who may read and write which topic.

The principals, and what each may do on the topics of one topic prefix (``AR_TOPIC_PREFIX``,
or a namespace's ``<name>.``):

=========  =====================================================================
admin      super user (``super.users`` in the broker config): topics, users, ACLs
cms        WRITE the facts topic; nothing else
projector  READ the facts topic, WRITE the dead-letter topic, its consumer group(s)
letters    READ the year-end topic, WRITE the letters topic, its consumer group(s)
operator   READ + WRITE the facts topic, WRITE the year-end topic (close-year, dlq
           redrive), READ every topic without a group (status, replay, log export),
           READ + WRITE the office's audit trail (the CLI's actions)
office     READ the facts and narratives topics without a group (the year board),
           READ + WRITE the office's audit trail (the workspace's actions), WRITE the
           facts topic (the close an approver signed off; a data officer's re-drive of
           dead letters), the year-end topic (the close) and the narratives topic (a
           version registered in the workspace)
=========  =====================================================================

Topic ACLs are LITERAL (the exact prefixed name); group ACLs are PREFIXED on
``<prefix>projector`` and ``<prefix>letters`` (a deployment may suffix its group id).
A namespace's ACLs are created with it and deleted with it (services/platform/namespace.py).

aiokafka's admin client has neither AlterUserScramCredentials nor a multi-binding
CreateAcls, so both requests are declared here on aiokafka's protocol classes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import (
    CreateAclsRequest_v1,
    DeleteAclsRequest_v1,
    DescribeAclsRequest_v1,
)
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

from contracts.topics import DEAD_LETTERS, FACTS, LETTERS, NARRATIVES, OFFICE_ACTIONS, YEAR_END
from services.platform.settings import read_secret

# Kafka's enums (org.apache.kafka.common.resource / acl).
RESOURCE_TOPIC, RESOURCE_GROUP, RESOURCE_CLUSTER = 2, 3, 4
PATTERN_ANY, PATTERN_LITERAL, PATTERN_PREFIXED = 1, 3, 4
OP_ANY, OP_READ, OP_WRITE, OP_DESCRIBE = 1, 3, 4, 8
PERMISSION_ANY, PERMISSION_ALLOW = 1, 3
ALLOW = PERMISSION_ALLOW
SCRAM_SHA_512 = 2
SCRAM_ITERATIONS = 8192

ADMIN = "admin"
# Users that authenticate with SCRAM-SHA-512; admin also has a PLAIN entry in the broker's
# own configuration (the broker's inter-broker and controller connections, and bootstrap).
USERS = ("admin", "cms", "projector", "letters", "operator", "office")

_NAMES = {RESOURCE_TOPIC: "topic", RESOURCE_GROUP: "group", RESOURCE_CLUSTER: "cluster"}
_OPS = {OP_READ: "READ", OP_WRITE: "WRITE", OP_DESCRIBE: "DESCRIBE"}


@dataclass(frozen=True, slots=True, order=True)
class AclBinding:
    """ALLOW ``operation`` on a resource to ``User:<user>`` from any host."""

    user: str
    resource_type: int
    name: str
    pattern: int
    operation: int

    @property
    def principal(self) -> str:
        return f"User:{self.user}"

    def __str__(self) -> str:
        kind = "prefixed" if self.pattern == PATTERN_PREFIXED else "literal"
        return (
            f"{self.principal} {_OPS[self.operation]} {_NAMES[self.resource_type]} "
            f"{self.name!r} ({kind})"
        )


def acl_bindings(prefix: str) -> list[AclBinding]:
    """Every ACL the principals need on the topics and groups of ``prefix``."""
    facts, dead = prefix + FACTS.name, prefix + DEAD_LETTERS.name
    letters, year_end = prefix + LETTERS.name, prefix + YEAR_END.name
    narratives = prefix + NARRATIVES.name
    actions = prefix + OFFICE_ACTIONS.name

    def topic(user: str, name: str, op: int) -> AclBinding:
        return AclBinding(user, RESOURCE_TOPIC, name, PATTERN_LITERAL, op)

    def group(user: str, name: str) -> AclBinding:
        return AclBinding(user, RESOURCE_GROUP, prefix + name, PATTERN_PREFIXED, OP_READ)

    return [
        topic("cms", facts, OP_WRITE),
        topic("projector", facts, OP_READ),
        topic("projector", dead, OP_WRITE),
        group("projector", "projector"),
        topic("letters", year_end, OP_READ),
        topic("letters", letters, OP_WRITE),
        topic("letters", narratives, OP_READ),
        group("letters", "letters"),
        topic("operator", facts, OP_READ),
        topic("operator", facts, OP_WRITE),
        topic("operator", year_end, OP_WRITE),
        # READ (which implies DESCRIBE) on the topics the operator does not write: the
        # backup of the log (`log export`) reads every topic; the restore (`log import`)
        # writes every topic and is the admin's (docs/security.md).
        topic("operator", dead, OP_READ),
        topic("operator", letters, OP_READ),
        topic("operator", year_end, OP_READ),
        # The office's narratives: registered and read back by the operator's CLI.
        topic("operator", narratives, OP_READ),
        topic("operator", narratives, OP_WRITE),
        # The office workspace's year board (docs/office.md): the facts topic's end offsets
        # (lag per partition) and the narrative in force, read without a consumer group.
        # Later parts of the workspace add their WRITEs here.
        topic("office", facts, OP_READ),
        topic("office", narratives, OP_READ),
        # A dead letter re-driven by a data officer goes back to the facts topic, unsigned,
        # exactly as the CLI's `dlq redrive` (services/projector/redrive.py).
        topic("office", facts, OP_WRITE),
        # The narrative pages register a version in the signed-in person's name.
        topic("office", narratives, OP_WRITE),
        # The audit trail (services/audit/): the workspace and the CLI record each action
        # there and read it back for the audit page; no other principal touches it.
        topic("office", actions, OP_WRITE),
        topic("office", actions, OP_READ),
        topic("operator", actions, OP_WRITE),
        topic("operator", actions, OP_READ),
        # The close with four eyes (docs/office.md): the workspace publishes the close an
        # approver signed off, the same markers and announcement as `close-year` (its WRITE
        # on the facts topic is the re-drive's, above).
        topic("office", year_end, OP_WRITE),
    ]


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]
    API_KEY = 30

    def __init__(self, bindings: Sequence[AclBinding]) -> None:
        self._bindings = bindings

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(
            [
                (b.resource_type, b.name, b.pattern, b.principal, "*", b.operation, ALLOW)
                for b in self._bindings
            ]
        )


class _DeleteAcls(Request[DeleteAclsRequest_v1]):  # type: ignore[misc]
    API_KEY = 31

    def __init__(self, filters: Sequence[tuple[int, str, int]]) -> None:
        self._filters = filters  # (resource type, name, pattern type): any user, op, host

    def build(self, request_struct_class: type[DeleteAclsRequest_v1]) -> DeleteAclsRequest_v1:
        return request_struct_class(
            [(t, name, p, None, None, OP_ANY, PERMISSION_ANY) for t, name, p in self._filters]
        )


class _DescribeAcls(Request[DescribeAclsRequest_v1]):  # type: ignore[misc]
    API_KEY = 29

    def __init__(self, user: str | None) -> None:
        self._principal = f"User:{user}" if user else None

    def build(self, request_struct_class: type[DescribeAclsRequest_v1]) -> DescribeAclsRequest_v1:
        return request_struct_class(1, None, PATTERN_ANY, self._principal, None, OP_ANY,
                                    PERMISSION_ANY)  # fmt: skip


class AlterUserScramCredentialsResponse_v0(Response):  # type: ignore[misc]
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class AlterUserScramCredentialsRequest_v0(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = AlterUserScramCredentialsResponse_v0
    SCHEMA = Schema(
        (
            "deletions",
            CompactArray(
                ("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields)
            ),
        ),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterUserScramCredentials(Request[AlterUserScramCredentialsRequest_v0]):  # type: ignore[misc]
    API_KEY = 51

    def __init__(self, passwords: dict[str, str]) -> None:
        self._passwords = passwords

    def build(
        self, request_struct_class: type[AlterUserScramCredentialsRequest_v0]
    ) -> AlterUserScramCredentialsRequest_v0:
        upsertions: list[tuple[str, int, int, bytes, bytes, dict[int, bytes]]] = []
        for user, password in sorted(self._passwords.items()):
            salt = os.urandom(32)
            salted = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, SCRAM_ITERATIONS)
            upsertions.append((user, SCRAM_SHA_512, SCRAM_ITERATIONS, salt, salted, {}))
        return request_struct_class([], upsertions, {})


async def _send(admin: AIOKafkaAdminClient, request: Request[Any]) -> Any:
    return await admin._send_request(request)  # aiokafka has no public call for these


def principal_passwords(secrets_dir: Path, users: Iterable[str] = USERS) -> dict[str, str]:
    """The Kafka passwords in ``<secrets_dir>/kafka-<user>.password``."""
    return {user: read_secret(secrets_dir, f"kafka-{user}") for user in users}


async def upsert_scram_users(admin: AIOKafkaAdminClient, passwords: dict[str, str]) -> None:
    """Create or update the users' SCRAM-SHA-512 credentials (a new salt each time)."""
    response = await _send(admin, _AlterUserScramCredentials(passwords))
    errors = [
        f"{user}: error {code} {message or ''}".strip()
        for user, code, message, _tags in response.results
        if code
    ]
    if errors:
        raise RuntimeError("updating SCRAM credentials failed: " + "; ".join(errors))


async def create_acls(admin: AIOKafkaAdminClient, bindings: Sequence[AclBinding]) -> None:
    """Create the bindings (an existing identical binding is left as it is)."""
    if not bindings:
        return
    response = await _send(admin, _CreateAcls(bindings))
    errors = [
        f"{b}: error {code} {message}"
        for b, (code, message) in zip(bindings, response.creation_responses, strict=True)
        if code
    ]
    if errors:
        raise RuntimeError("creating ACLs failed: " + "; ".join(errors))


async def delete_acls(admin: AIOKafkaAdminClient, bindings: Sequence[AclBinding]) -> int:
    """Delete every ACL on the bindings' resources (any user, operation and host);
    returns how many were deleted."""
    filters = sorted({(b.resource_type, b.name, b.pattern) for b in bindings})
    if not filters:
        return 0
    response = await _send(admin, _DeleteAcls(filters))
    deleted = 0
    for code, message, matching in response.filter_responses:
        if code:
            raise RuntimeError(f"deleting ACLs failed: error {code} {message}")
        deleted += len(matching)
    return deleted


async def describe_acls(admin: AIOKafkaAdminClient, user: str | None = None) -> set[AclBinding]:
    """The ALLOW bindings on topics and groups (of one user, or of everyone)."""
    response = await _send(admin, _DescribeAcls(user))
    if response.error_code:
        raise RuntimeError(f"describing ACLs failed: {response.error_message}")
    found = set()
    for resource_type, name, pattern, acls in response.resources:
        for principal, _host, operation, permission in acls:
            if permission == PERMISSION_ALLOW and principal.startswith("User:"):
                found.add(AclBinding(principal[5:], resource_type, name, pattern, operation))
    return found


async def wait_for_acls(
    admin: AIOKafkaAdminClient,
    bindings: Sequence[AclBinding],
    *,
    present: bool = True,
    timeout_s: float = 30.0,
) -> None:
    """Until the broker enforces ``bindings`` (or, ``present=False``, none of them any more).
    The controller commits an ACL change before it answers, but the broker applies it from
    the metadata log a moment later; its DescribeAcls answers from what it enforces."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    wanted = set(bindings)
    while True:
        have = await describe_acls(admin)
        if (wanted <= have) if present else not (wanted & have):
            return
        if asyncio.get_running_loop().time() > deadline:
            state = "in force" if present else "removed"
            raise TimeoutError(f"the broker did not have the ACLs {state} within {timeout_s}s")
        await asyncio.sleep(0.05)


async def grant(admin: AIOKafkaAdminClient, prefix: str) -> list[AclBinding]:
    """Create the missing ACLs of ``prefix`` and wait until the broker enforces them;
    returns the ones created."""
    wanted = acl_bindings(prefix)
    have = await describe_acls(admin)
    missing = [b for b in wanted if b not in have]
    await create_acls(admin, missing)
    await wait_for_acls(admin, wanted)
    return missing


async def revoke(admin: AIOKafkaAdminClient, prefix: str) -> int:
    """Delete every ACL on the resources of ``prefix`` and wait until the broker no longer
    enforces them; returns how many were deleted."""
    bindings = acl_bindings(prefix)
    deleted = await delete_acls(admin, bindings)
    await wait_for_acls(admin, bindings, present=False)
    return deleted
