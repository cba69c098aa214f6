"""The example values the repository ships, and the guard that keeps them out of a real deployment.

`Pulumi.dev.yaml`, `Pulumi.prod.yaml` and the domain files carry placeholders so the tests and the
offline plan run out of the box: AWS's documentation account 123456789012, RFC 2606 domains
(example.com), RFC 5737 documentation CIDRs (203.0.113.0/24), hosted zone ids containing `EXAMPLE`,
the nil UUID as the identity provider's tenant and client id, and images under ghcr.io/example-org. A real `pulumi up` or `pulumi preview` with any of them would
fail late (or worse, half-succeed), so `refuse_example_values` stops it before the first resource is
registered, with one line per key to set.

How the two runs are told apart: the offline tools (`platformctl/simulate.py`: the tests, `platformctl
plan`) run the program with Pulumi's mock monitor (`pulumi.runtime.set_mocks`); the Pulumi engine
never does. So the guard is skipped exactly when the registered resources go to a `MockMonitor`, with
no flag or environment variable a real run could inherit by mistake.

Scope: the aws foundation. The local stack is meant to run on the examples (localtest.me, no account;
its images come from the local stack's own settings).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path

from pulumi.runtime import mocks
from pulumi.runtime import settings as runtime_settings

from components.config import NAMESPACE, StackConfig
from components.domain_config import PROJECT_DIR, Domain
from components.validation import ConfigError

EXAMPLE_ACCOUNT_ID = "123456789012"
# RFC 2606 reserved second-level domains.
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org")
# RFC 5737 documentation ranges (TEST-NET-1/2/3).
DOCUMENTATION_NETS = tuple(ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
EXAMPLE_ZONE_MARK = "EXAMPLE"
EXAMPLE_IMAGE_PREFIX = "ghcr.io/example-org/"
# The nil UUID stands in for the identity provider's tenant and client ids.
EXAMPLE_UUID = "00000000-0000-0000-0000-000000000000"


def _in_example_account(arn: str) -> bool:
    return arn.split(":")[4:5] == [EXAMPLE_ACCOUNT_ID]


def _is_example_domain(name: str) -> bool:
    return any(name == d or name.endswith(f".{d}") for d in EXAMPLE_DOMAINS)


def _is_documentation_cidr(cidr: str) -> bool:
    net = ipaddress.IPv4Network(cidr)
    return any(net.subnet_of(doc) for doc in DOCUMENTATION_NETS)


def example_value_problems(
    config: StackConfig, domains: Iterable[Domain], domains_dir: Path = PROJECT_DIR / "domains"
) -> list[str]:
    """One line per key that still holds an example value, naming the key and what to set."""
    domains = list(domains)
    folder = domains_dir.resolve()
    shown = folder.relative_to(PROJECT_DIR).as_posix() if folder.is_relative_to(PROJECT_DIR) else str(folder)
    key = f"{NAMESPACE}:"
    problems: list[str] = []
    if config.cluster is not None:
        for i, arn in enumerate(config.cluster.admin_principals):
            if _in_example_account(arn):
                problems.append(
                    f"{key}cluster.adminPrincipals[{i}]: {arn!r} is in the example account {EXAMPLE_ACCOUNT_ID}; "
                    "set your own admin role ARNs"
                )
        for i, cidr in enumerate(config.cluster.public_access_cidrs):
            if _is_documentation_cidr(cidr):
                problems.append(
                    f"{key}cluster.publicAccessCidrs[{i}]: {cidr} is a documentation range (RFC 5737); "
                    "set your office/VPN and CI egress CIDRs, or [] for a private endpoint"
                )
    ingress = config.ingress
    if _is_example_domain(ingress.base_domain):
        problems.append(
            f"{key}ingress.baseDomain: {ingress.base_domain!r} is a reserved example domain (RFC 2606); "
            "set the domain your UIs are served under"
        )
    if ingress.certificate_arn and _in_example_account(ingress.certificate_arn):
        problems.append(
            f"{key}ingress.certificateArn: is in the example account {EXAMPLE_ACCOUNT_ID}; "
            "set the ARN of your ACM certificate for *.<domain>.<baseDomain>"
        )
    if ingress.hosted_zone_id and EXAMPLE_ZONE_MARK in ingress.hosted_zone_id:
        problems.append(
            f"{key}ingress.hostedZoneId: {ingress.hosted_zone_id!r} is an example; "
            "set the id of the Route 53 hosted zone of baseDomain"
        )
    idp = config.identity
    if idp.issuer_url and EXAMPLE_UUID in idp.issuer_url:
        problems.append(f"{key}identity.issuerUrl: holds the example tenant id; set your provider's issuer URL")
    if idp.client_id == EXAMPLE_UUID:
        problems.append(f"{key}identity.clientId: is the example id; set the OIDC client id registered for the UIs")
    if idp.client_secret_arn and _in_example_account(idp.client_secret_arn):
        problems.append(
            f"{key}identity.clientSecretArn: is in the example account {EXAMPLE_ACCOUNT_ID}; "
            "set the ARN of the Secrets Manager secret holding the OIDC client secret"
        )
    notebook_image = config.notebooks.image.repository
    if notebook_image.startswith(EXAMPLE_IMAGE_PREFIX) and any(
        d.tools.sandbox.enabled and not d.retired for d in domains
    ):
        problems.append(
            f"{key}notebooks.image.repository: {notebook_image!r} is an example image; build "
            "images/sandbox-notebook and set where you pushed it (docs/notebooks.md)"
        )
    for domain in domains:
        if domain.retired:
            continue  # runs no tools: only its data is kept
        dagster = domain.tools.dagster
        if dagster.enabled and dagster.image and dagster.image.repository.startswith(EXAMPLE_IMAGE_PREFIX):
            problems.append(
                f"{shown}/{domain.name}.yaml: tools.dagster.image.repository: "
                f"{dagster.image.repository!r} is an example image; set the domain's user-code image"
            )
    return problems


def running_under_mocks() -> bool:
    """True when the program runs under Pulumi's mocks (tests, offline plan), never under the engine."""
    return isinstance(runtime_settings.get_monitor(), mocks.MockMonitor)


def refuse_example_values(
    config: StackConfig, domains: Iterable[Domain], domains_dir: Path = PROJECT_DIR / "domains"
) -> None:
    """Stop a real run of an aws stack that still holds example values; the offline tools run on them."""
    if config.foundation != "aws" or running_under_mocks():
        return
    problems = example_value_problems(config, domains, domains_dir)
    if problems:
        raise ConfigError(
            problems,
            title="example values left in the stack or domain files (replace each before a real deployment; "
            "README: Deploy)",
        )
