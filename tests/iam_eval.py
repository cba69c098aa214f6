"""A small IAM evaluator for identity policies: is a request allowed by a set of policy documents?

Enough of AWS's evaluation logic for the platform's documents (an explicit Deny wins, then any
Allow; Action/NotAction and Resource/NotResource with `*` and `?` wildcards, actions case-insensitive;
the condition operators the platform uses, a missing key failing the condition), so tests can state
effective access as requests instead of reading statements.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from typing import Any

OPERATORS = {"StringEquals", "StringLike", "ArnEquals", "ArnLike", "Bool", "StringNotEquals"}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    # fnmatch's [...] sets never occur in ARNs or actions; escape them so only * and ? are wildcards.
    return fnmatch.fnmatchcase(value, re.sub(r"([\[\]])", r"[\1]", pattern))


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for operator, keys in condition.items():
        if operator not in OPERATORS:
            raise ValueError(f"the evaluator does not know condition operator {operator}")
        for key, expected in keys.items():
            if key not in context:
                return False
            got = context[key]
            values = [str(v) for v in _list(expected)]
            if operator in ("StringEquals", "ArnEquals"):
                ok = got in values
            elif operator == "StringNotEquals":
                ok = got not in values
            elif operator == "Bool":
                ok = got.lower() in [v.lower() for v in values]
            else:
                ok = any(_match(v, got) for v in values)
            if not ok:
                return False
    return True


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
    if "Action" in statement:
        action_ok = any(_match(a, action, ignore_case=True) for a in _list(statement["Action"]))
    else:
        action_ok = not any(_match(a, action, ignore_case=True) for a in _list(statement["NotAction"]))
    if "Resource" in statement:
        resource_ok = any(_match(r, resource) for r in _list(statement["Resource"]))
    else:
        resource_ok = not any(_match(r, resource) for r in _list(statement["NotResource"]))
    return action_ok and resource_ok and _condition_holds(statement.get("Condition", {}), context)


def allowed(
    documents: Iterable[Mapping[str, Any]], action: str, resource: str, context: Mapping[str, str] | None = None
) -> bool:
    """Whether an identity with these policies may perform `action` on `resource` (context: condition keys)."""
    statements = [s for doc in documents for s in _list(doc["Statement"])]
    ctx = context or {}
    if any(s["Effect"] == "Deny" and _applies(s, action, resource, ctx) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _applies(s, action, resource, ctx) for s in statements)
