"""CrossGuard pack: the rules in rules.py, each at its enforcement level for the stack's environment.

The engine starts the pack with the stack's config in PULUMI_CONFIG, and `python -m pulumi.policy` loads it
into pulumi.Config before running this file, so `dataplatform:environment` is read once at start-up. Without
it (e.g. `pulumi policy publish`) the pack uses the prod levels, the strictest.
"""
# pulumi_policy lives only in policy/.venv (it pins protobuf 5; the program's venv has 6).
# pyright: reportMissingImports=false

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

# policy/rules.py: the engine runs this file with policy/ first on sys.path.
import rules
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

PACK_NAME = "dataplatform-governance"


def stack_environment() -> str:
    value = pulumi.Config("dataplatform").get("environment")
    return value if value in rules.ENVIRONMENTS else "prod"


def _plain(value: Any) -> Any:
    """The engine's property proxies as plain data; unknown (preview) values become rules.UNKNOWN."""

    def item(container: Any, key: Any) -> Any:
        try:
            return _plain(container[key])
        except UnknownValueError:
            return rules.UNKNOWN

    if isinstance(value, Mapping):
        return {k: item(value, k) for k in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [item(value, i) for i in range(len(value))]
    return value


def _from_resource(r: ResourceValidationArgs | PolicyResource, dependencies: tuple[str, ...] = ()) -> rules.Res:
    props = _plain(r.props)
    delete_before_replace = r.opts.delete_before_replace
    return rules.Res(
        type=r.resource_type,
        name=r.name,
        props=props,
        urn=r.urn,
        parent=r.opts.parent or "",
        provider=r.provider.urn if r.provider else "",
        protect=r.opts.protect,
        retain_on_delete=None,
        delete_before_replace=bool(delete_before_replace),
        dependencies=dependencies,
        # Stack validation sees the resources' state, so known outputs (bucket names) are there too.
        outputs=props if isinstance(r, PolicyResource) else {},
    )


def _stack(resources: list[PolicyResource]) -> list[rules.Res]:
    out = [_from_resource(r, tuple(d.urn for d in r.dependencies)) for r in resources]
    seen = {r.urn for r in out}
    for r in resources:
        p = r.provider
        if p is not None and p.urn not in seen:
            seen.add(p.urn)
            out.append(rules.Res(type=p.resource_type, name=p.name, props=_plain(p.props), urn=p.urn))
    return out


def _resource_policy(rule: rules.ResourceRule, ctx: rules.Ctx) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if rule.applies_to(args.resource_type):
            for v in rule.check(_from_resource(args), ctx):
                report(v.message, None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel(rule.level(ctx.environment)),
    )


def _stack_policy(rule: rules.StackRule, ctx: rules.Ctx) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for v in rule.check(_stack(args.resources), ctx):
            report(v.message, v.urn or None)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel(rule.level(ctx.environment)),
    )


def build_policies(environment: str) -> list[Policy]:
    ctx = rules.Ctx(environment)
    return [
        _resource_policy(rule, ctx) if isinstance(rule, rules.ResourceRule) else _stack_policy(rule, ctx)
        for rule in rules.RULES.values()
    ]


if __name__ == "__main__":
    # Serves the engine until it stops the pack.
    PolicyPack(name=PACK_NAME, policies=build_policies(stack_environment()))
