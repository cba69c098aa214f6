"""Every resource the mocks record for a stack, as stable JSON; and a diff of two such files.

    python -m platformctl.records --stack dev [--preview] [--domains-dir D] [--out dev.json]
    python -m platformctl.records diff a.json b.json [--resources-only]

Made to prove that a refactor moves code without changing what the program registers: record a
stack before and after, then `diff` (exit 1 on any difference). Unlike `platformctl plan`, nothing
is masked (a changed secret input must show); secret values are marked `{"__secret__": value}`.
The mocks' values are fake, but keep these files out of git anyway.

Deterministic: resources are sorted by URN, dependency, alias and ignore-changes lists are sorted
(their order follows async resolution, not the program), and mapping keys are sorted. Providers
are given by URN, without the mocks' ID.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import pulumi
from pulumi.output import Unknown

from platformctl.simulate import Program, Resource, Secret, run_program

SECRET_KEY = "__secret__"
UNKNOWN = "<unknown>"  # a computed value a preview does not know yet


def plain(value: Any) -> Any:
    """`value` as JSON data, each Secret as {"__secret__": value}."""
    if isinstance(value, Secret):
        return {SECRET_KEY: plain(value.value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Unknown):
        return UNKNOWN
    raise TypeError(f"cannot record a {type(value).__name__}: {value!r}")


def record(r: Resource) -> dict[str, Any]:
    return {
        "type": r.type,
        "name": r.name,
        "urn": r.urn,
        "parent": r.parent,
        "custom": r.custom,
        "inputs": plain(r.inputs),
        "options": {
            "provider": r.provider_urn,
            "depends_on": sorted(r.depends_on),
            "protect": r.protect,
            "retain_on_delete": r.retain_on_delete,
            "delete_before_replace": r.delete_before_replace,
            "aliases": sorted(r.aliases),
            "ignore_changes": sorted(r.ignore_changes),
            "import_id": r.import_id,
        },
    }


def records(program: Program) -> dict[str, Any]:
    urns = [r.urn for r in program.resources]
    duplicates = sorted({u for u in urns if urns.count(u) > 1})
    if duplicates:
        raise ValueError(f"URNs registered twice: {duplicates}")
    return {
        "stack": program.stack,
        "preview": program.preview,
        "resources": sorted((record(r) for r in program.resources), key=lambda d: d["urn"]),
        "exports": plain(program.exports),
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


MAX_SHOWN = 160  # characters of a value shown in a difference


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _differences(path: str, a: Any, b: Any, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a:
                out.append(f"{sub}: added {_show(b[key])}")
            elif key not in b:
                out.append(f"{sub}: removed {_show(a[key])}")
            else:
                _differences(sub, a[key], b[key], out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _differences(f"{path}[{i}]", x, y, out)
    elif a != b or type(a) is not type(b):
        out.append(f"{path}: {_show(a)} -> {_show(b)}")


def diff(a: dict[str, Any], b: dict[str, Any], *, resources_only: bool = False) -> list[str]:
    """Human-readable differences between two record documents ([] when identical)."""
    left = {r["urn"]: r for r in a["resources"]}
    right = {r["urn"]: r for r in b["resources"]}
    out = [f"- {urn}" for urn in sorted(left.keys() - right.keys())]
    out += [f"+ {urn}" for urn in sorted(right.keys() - left.keys())]
    for urn in sorted(left.keys() & right.keys()):
        changes: list[str] = []
        _differences("", left[urn], right[urn], changes)
        out.extend(f"~ {urn}: {c}" for c in changes)
    if not resources_only:
        changes = []
        _differences("", a.get("exports", {}), b.get("exports", {}), changes)
        out.extend(f"~ exports.{c}" for c in changes)
    return out


def _record_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m platformctl.records", description="Record a stack's resources as JSON."
    )
    parser.add_argument("--stack", required=True)
    parser.add_argument("--preview", action="store_true", help="leave computed outputs unknown (a new stack)")
    parser.add_argument("--domains-dir", type=Path)
    parser.add_argument("--out", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    # Anything the program prints must not end up inside the JSON.
    try:
        with contextlib.redirect_stdout(sys.stderr):
            program = run_program(
                args.stack,
                preview=args.preview,
                domains_dir=args.domains_dir.resolve() if args.domains_dir else None,
            )
    except (pulumi.RunError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = dumps(records(program))
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _diff_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m platformctl.records diff")
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--resources-only", action="store_true", help="ignore the stack exports")
    args = parser.parse_args(argv)
    a, b = (json.loads(p.read_text()) for p in (args.a, args.b))
    lines = diff(a, b, resources_only=args.resources_only)
    for line in lines:
        print(line)
    print(f"{len(lines)} difference(s) between {args.a} and {args.b}", file=sys.stderr)
    return 1 if lines else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["diff"]:
        return _diff_main(argv[1:])
    return _record_main(argv)


if __name__ == "__main__":
    sys.exit(main())
