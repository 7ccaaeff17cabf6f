"""The synthetic organization: its accounts, their principals, and the resources each region holds.

Everything here derives from the seed alone, so every worker process rebuilds the same world without
being sent it. Resource pools are finite on purpose: the ground truth is a set of (action, resource) pairs
per principal, and finite pools keep it bounded however many millions of events are written.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from trailsmith.synth.config import SynthConfig
from trailsmith.synth.ids import (
    ALNUM,
    LOWER_ALNUM,
    access_key,
    account_id,
    chars,
    hex_string,
    rng_for,
    unique_id,
    uuid4,
)

SSO_PATH = "/aws-reserved/sso.amazonaws.com/"
_ALIASES = ("prod", "staging", "shared", "dev", "sandbox", "analytics", "security", "edge")


@dataclass(frozen=True)
class Role:
    account: str
    name: str
    path: str
    role_id: str

    @property
    def arn(self) -> str:
        """The role's ARN, path included: the policy holder of its sessions."""
        return f"arn:aws:iam::{self.account}:role{self.path}{self.name}"

    @property
    def profile_arn(self) -> str:
        """Its instance profile (same name, same path) for roles handed to EC2."""
        return f"arn:aws:iam::{self.account}:instance-profile{self.path}{self.name}"


@dataclass(frozen=True)
class User:
    account: str
    name: str
    path: str
    user_id: str
    access_key: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:user{self.path}{self.name}"


@dataclass(frozen=True, eq=False)  # identity hash: one instance per account, cached with its world
class Account:
    id: str
    alias: str
    #: persona key -> role
    roles: dict[str, Role]
    #: persona key -> user
    users: dict[str, User]

    @property
    def root_arn(self) -> str:
        return f"arn:aws:iam::{self.id}:root"


@dataclass(frozen=True)
class Bucket:
    name: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Function:
    name: str
    role: Role
    runtime: str
    handler: str


@dataclass(frozen=True)
class Table:
    name: str
    indexes: tuple[str, ...]
    partition_key: str


@dataclass(frozen=True)
class Stack:
    name: str
    stack_id: str


@dataclass(frozen=True)
class Pool:
    """The resources of one account in one region."""

    account: str
    region: str
    data: Bucket
    artifacts: Bucket
    backup: Bucket
    audit: Bucket
    functions: tuple[Function, ...]
    tables: tuple[Table, ...]
    keys: tuple[str, ...]
    queues: tuple[str, ...]
    topics: tuple[str, ...]
    secrets: tuple[str, ...]
    parameters: tuple[str, ...]
    log_groups: tuple[str, ...]
    cluster: str
    services: tuple[str, ...]
    task_families: tuple[str, ...]
    stacks: tuple[Stack, ...]
    instances: tuple[str, ...]
    images: tuple[str, ...]
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    volumes: tuple[str, ...]
    vpc: str
    vpc_endpoint: str
    alarms: tuple[str, ...]
    dashboards: tuple[str, ...]
    container_ids: tuple[str, ...]

    def prefix(self, service: str) -> str:
        """``arn:aws:<service>:<region>:<account>:``, the start of most regional ARNs."""
        return f"arn:aws:{service}:{self.region}:{self.account}:"

    def key_arn(self, key_id: str) -> str:
        return f"arn:aws:kms:{self.region}:{self.account}:key/{key_id}"


@dataclass(frozen=True)
class World:
    seed: int
    org_id: str
    management_account: str
    bucket: str
    trail: str
    home_region: str
    accounts: tuple[Account, ...]

    def pool(self, account: Account, region: str) -> Pool:
        return _pool(self.seed, account, region)


def build_world(config: SynthConfig) -> World:
    """The organization for ``config``: account ids, principals, and the trail's bucket and name."""
    return _world(config.seed, config.accounts, config.regions[0], config.tags)


@functools.lru_cache(maxsize=8)
def _world(seed: int, count: int, home_region: str, tags: bool = False) -> World:
    rng = rng_for(seed, "organization")
    org_id = "o-" + chars(rng, LOWER_ALNUM, 10)
    ids: list[str] = []
    while len(ids) < count:
        candidate = account_id(rng, leading_zero=not ids)
        if candidate not in ids:
            ids.append(candidate)
    accounts = tuple(_account(seed, index, ident, tags) for index, ident in enumerate(ids))
    bucket = f"aws-cloudtrail-logs-{ids[0]}-{hex_string(rng, 8)}"
    return World(seed, org_id, ids[0], bucket, "org-trail", home_region, accounts)


# persona key -> (role name, path); SSO names get their hash suffix per account
_ROLES = {
    "app-deployer": ("app-deployer", "/"),
    "data-pipeline": ("data-pipeline", "/service/"),
    "ops-automation": ("ops-automation", "/service/ops/"),
    "sso-admin": ("AWSReservedSSO_AdministratorAccess_", SSO_PATH),
    "sso-readonly": ("AWSReservedSSO_ReadOnlyAccess_", SSO_PATH),
    "orders-api-exec": ("orders-api-exec", "/service-role/"),
    "thumbnailer-exec": ("thumbnailer-exec", "/service-role/"),
    "orders-worker-task": ("orders-worker-task", "/"),
    "ecs-task-execution": ("ecsTaskExecutionRole", "/"),
    "ec2-worker": ("ec2-worker", "/"),
    "cfn-exec": ("cfn-exec", "/"),
    "s3-replication": ("s3-replication", "/service-role/"),
}
_USERS = {"ci-deployer": "/", "alice": "/engineering/", "legacy-backup": "/"}


#: roles only archives made with tags have (their ids from a random stream of their own)
_TAG_ROLES = {"abac-analyst": ("abac-analyst", "/abac/")}


def _account(seed: int, index: int, ident: str, tags: bool = False) -> Account:
    rng = rng_for(seed, "account", ident)
    alias = _ALIASES[index % len(_ALIASES)] + (str(index // len(_ALIASES)) if index >= len(_ALIASES) else "")
    roles: dict[str, Role] = {}
    for key, (name, path) in _ROLES.items():
        if path == SSO_PATH:
            name += hex_string(rng, 16)
        roles[key] = Role(ident, name, path, unique_id(rng, "AROA"))
    users = {
        key: User(ident, key, path, unique_id(rng, "AIDA"), access_key(rng, "AKIA"))
        for key, path in _USERS.items()
    }
    if tags:
        extra = rng_for(seed, "account-tags", ident)
        for key, (name, path) in _TAG_ROLES.items():
            roles[key] = Role(ident, name, path, unique_id(extra, "AROA"))
    return Account(ident, alias, roles, users)


def _ec2_id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}-0{hex_string(rng, 16)}"


@functools.lru_cache(maxsize=256)
def _pool(seed: int, account: Account, region: str) -> Pool:
    rng = rng_for(seed, "pool", account.id, region)
    a, r = account.alias, region
    data = Bucket(
        f"{a}-data-{r}-{account.id}",
        (
            *(
                f"{prefix}/part-{i:05d}.parquet"
                for prefix in ("raw/orders", "raw/clicks", "curated/orders")
                for i in range(8)
            ),
            "exports/daily/summary.csv",
            "reports/Q3 résumé.pdf",
            "reports/2024/+plus sign & space.txt",
        ),
    )
    artifacts = Bucket(
        f"{a}-artifacts-{r}-{account.id}",
        tuple(
            f"lambda/{fn}/{hex_string(rng, 12)}.zip"
            for fn in ("orders-api", "thumbnailer", "nightly-report")
            for _ in range(3)
        )
        + tuple(f"cloudformation/{stack}.yaml" for stack in ("orders-platform", "networking", "monitoring")),
    )
    backup = Bucket(
        f"{a}-backup-{r}-{account.id}",
        tuple(f"postgres/orders/{day:02d}/dump-{part}.sql.gz" for day in range(1, 8) for part in range(2)),
    )
    audit = Bucket(f"{a}-audit-{r}-{account.id}", ("findings/latest.json", "access-review/2024.xlsx"))
    roles = account.roles
    functions = (
        Function("orders-api", roles["orders-api-exec"], "python3.12", "app.handler"),
        Function("thumbnailer", roles["thumbnailer-exec"], "nodejs20.x", "index.handler"),
        Function("nightly-report", roles["orders-api-exec"], "python3.12", "report.main"),
    )
    tables = (
        Table("Orders", ("by-customer", "by-status"), "orderId"),
        Table("Sessions", (), "sessionId"),
        Table("Inventory", ("by-sku",), "sku"),
    )
    return Pool(
        account=account.id,
        region=region,
        data=data,
        artifacts=artifacts,
        backup=backup,
        audit=audit,
        functions=functions,
        tables=tables,
        keys=tuple(uuid4(rng) for _ in range(3)),
        queues=("orders-events", "orders-events-dlq", "thumbnail-jobs"),
        topics=("alerts", "orders-notifications"),
        secrets=tuple(
            f"{name}-{chars(rng, ALNUM, 6)}"
            for name in ("prod/orders/db", "prod/orders/api-key", "shared/datadog")
        ),
        parameters=(
            "/app/orders/db-host",
            "/app/orders/feature-flags",
            "/platform/ami-id",
            "/app/thumbnailer/max-size",
        ),
        log_groups=(*(f"/aws/lambda/{fn.name}" for fn in functions), "/ecs/orders-worker", "/ops/automation"),
        cluster="orders",
        services=("orders-worker", "orders-scheduler"),
        task_families=("orders-worker", "report-runner"),
        stacks=tuple(Stack(name, uuid4(rng)) for name in ("orders-platform", "networking", "monitoring")),
        instances=tuple(_ec2_id(rng, "i") for _ in range(4)),
        images=tuple(_ec2_id(rng, "ami") for _ in range(2)),
        subnets=tuple(_ec2_id(rng, "subnet") for _ in range(2)),
        security_groups=tuple(_ec2_id(rng, "sg") for _ in range(2)),
        volumes=tuple(_ec2_id(rng, "vol") for _ in range(4)),
        vpc=_ec2_id(rng, "vpc"),
        vpc_endpoint=_ec2_id(rng, "vpce"),
        alarms=("orders-api-5xx", "orders-queue-depth", "ec2-cpu-high"),
        dashboards=("orders-overview", "platform-health"),
        container_ids=tuple(hex_string(rng, 32) for _ in range(4)),
    )
