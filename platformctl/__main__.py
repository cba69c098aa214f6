"""platformctl: offline tooling for the data platform.

    python -m platformctl plan --stack dev [--out plan-out/dev] [--domains-dir DIR] [--render]
    python -m platformctl cost --stack dev [--domains-dir DIR] [--format text|json]
    python -m platformctl diff BASE HEAD [--format text|markdown]
    python -m platformctl offboard DOMAIN --stack prod [--state STATE.json | --account-id ID] [--dry-run]
    python -m platformctl smoke --stack dev [--context CTX] [--timeout 20]
    python -m platformctl up|preview --stack dev [--domains a,b | --changed-since REF | --environment-only]
    python -m platformctl stacks --stack dev --stack prod --changed-since REF

`plan` runs the program under Pulumi mocks (no credentials, no Pulumi CLI) and writes plan.json,
Helm values and Kubernetes manifests, with the monthly cost estimate in plan.json; it fails when a
domain's estimate exceeds its budget. `cost` prints the estimate alone (docs/cost.md). `diff`
compares two plans (files or plan directories) per domain, cost included; `offboard` prints what
retiring a domain deletes and keeps and writes domains/retired/<name>.yaml (docs/runbooks/offboarding.md);
`smoke` checks a deployed stack from the current kubeconfig (platformctl/smoke.py). `up` and `preview`
drive an environment's stacks with the Automation API (the Pulumi CLI is needed): one stack, or split,
the environment's stack then the domain stacks in parallel; `stacks` prints a pull request's preview
matrix as JSON (platformctl/orchestrate.py, docs/runbooks/split-stacks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pulumi

from platformctl import cost, orchestrate, plan, smoke
from platformctl import diff as plan_diff
from platformctl import offboard as offboarding
from platformctl.simulate import run_program


def _plan(args: argparse.Namespace) -> int:
    out = Path(args.out or f"plan-out/{args.stack}")
    domains_dir = Path(args.domains_dir).resolve() if args.domains_dir else None
    try:
        program = run_program(args.stack, domains_dir=domains_dir)
    except (pulumi.RunError, FileNotFoundError) as exc:
        # Config errors already name the file and field; a traceback would only hide them.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    estimate = None
    if cost.region_of(program) is not None:
        try:
            estimate = cost.estimate_stack(program, domains_dir=domains_dir)
        except cost.CostError as exc:
            # A region without a price snapshot still gets its plan; budgets cannot be checked there.
            print(f"warning: no cost estimate, budgets not checked: {exc}", file=sys.stderr)
    document = plan.write_plan(program, out, cost=estimate.to_dict() if estimate else None)
    if not args.quiet:
        print(plan.format_summary(document))
        if estimate:
            print("\n" + cost.format_text(estimate))
    print(f"\nwrote {out / 'plan.json'} ({len(document['resources'])} resources)", file=sys.stderr)
    breaches = estimate.breaches() if estimate else []
    for breach in breaches:
        print(f"error: budget exceeded: {breach}", file=sys.stderr)
    if args.render:
        findings = plan.render_into(program, out)
        for line in findings:
            print(f"render: {line}", file=sys.stderr)
        print(f"rendered Helm releases into {out / 'rendered'}: {len(findings)} finding(s)", file=sys.stderr)
        return 1 if findings or breaches else 0
    return 1 if breaches else 0


def _cost(args: argparse.Namespace) -> int:
    domains_dir = Path(args.domains_dir).resolve() if args.domains_dir else None
    try:
        program = run_program(args.stack, domains_dir=domains_dir)
        text, estimate = cost.main_cost(program, domains_dir, args.format)
    except (pulumi.RunError, FileNotFoundError, cost.CostError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(text)
    for breach in estimate.breaches():
        print(f"error: budget exceeded: {breach}", file=sys.stderr)
    return 1 if estimate.breaches() else 0


def _diff(args: argparse.Namespace) -> int:
    result = plan_diff.diff_plans(plan_diff.load_plan(Path(args.base)), plan_diff.load_plan(Path(args.head)))
    text = plan_diff.format_markdown(result) if args.format == "markdown" else plan_diff.format_text(result)
    print(text)
    return 0


def _offboard(args: argparse.Namespace) -> int:
    domains_dir = Path(args.domains_dir or "domains").resolve()
    try:
        result, written = offboarding.offboard(
            args.domain,
            args.stack,
            domains_dir=domains_dir,
            state_file=Path(args.state) if args.state else None,
            account_id=args.account_id,
            write=not args.dry_run,
        )
    except (pulumi.RunError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(offboarding.format_plan(result))
    unknown = [i.logical_name for i in result.retained if i.type in offboarding.IMPORT_ID_INPUT and not i.id]
    if unknown:
        print(
            f"\nwarning: no ID known offline for {', '.join(unknown)}; re-run with --state (pulumi stack export) "
            "before the domain could be onboarded again",
            file=sys.stderr,
        )
    if written:
        print(f"\nwrote {written}: commit it with `retired: true` in {args.domain}.yaml (one pull request)")
    return 0


def _smoke(args: argparse.Namespace) -> int:
    return smoke.main(args.stack, context=args.context, timeout=args.timeout)


def _orchestrate(args: argparse.Namespace) -> int:
    domains_dir = Path(args.domains_dir or orchestrate.PROJECT_DIR / "domains").resolve()
    env = args.stack
    try:
        if args.domains is not None:
            selection = orchestrate.Selection.named(d.strip() for d in args.domains.split(",") if d.strip())
        elif args.changed_since:
            selection = orchestrate.selection_since(args.changed_since, env, domains_dir)
        elif args.environment_only:
            selection = orchestrate.Selection(True, frozenset())
        else:
            selection = orchestrate.Selection.everything()
        active = orchestrate.active_domains(domains_dir, env)
        retired = orchestrate.retired_in(domains_dir, env)
        workspace = orchestrate.AutomationWorkspace(
            org=args.org or None, secrets_provider=args.secrets_provider or None, message=args.message
        )
        report = orchestrate.orchestrate(
            workspace,
            env,
            args.command,
            selection,
            active=active,
            retired_records=retired,
            parallel=args.parallel,
            on_line=lambda stack, line: print(f"[{stack}] {line}", flush=True),
        )
    except (orchestrate.OrchestrationError, pulumi.RunError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n" + orchestrate.format_report(report))
    if args.out:
        orchestrate.write_outputs(report, Path(args.out))
    return 0 if report.ok else 1


def _stacks(args: argparse.Namespace) -> int:
    try:
        matrix = orchestrate.ci_matrix(
            args.stack,
            args.changed_since,
            domains_dir=Path(args.domains_dir).resolve() if args.domains_dir else None,
        )
    except (orchestrate.OrchestrationError, pulumi.RunError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(matrix, separators=(",", ":")))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m platformctl",
        description="Tooling for the data platform: offline plan, cost, diff and offboarding; smoke check of a deployed stack.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("plan", help="offline plan of a stack (Pulumi mocks)")
    p.add_argument("--stack", required=True, help="stack name; reads Pulumi.<stack>.yaml")
    p.add_argument("--out", help="output directory (default plan-out/<stack>)")
    p.add_argument("--domains-dir", help="domain files folder (default domains/)")
    p.add_argument(
        "--render",
        action="store_true",
        help="also render every Helm release into <out>/rendered and run the rendered checks",
    )
    p.add_argument("--quiet", action="store_true", help="write the files, print no summary")
    p.set_defaults(func=_plan)

    c = commands.add_parser("cost", help="monthly cost estimate per domain (offline, committed prices)")
    c.add_argument("--stack", required=True, help="stack name; reads Pulumi.<stack>.yaml")
    c.add_argument("--domains-dir", help="domain files folder (default domains/)")
    c.add_argument("--format", choices=["text", "json"], default="text")
    c.set_defaults(func=_cost)

    d = commands.add_parser("diff", help="per-domain change summary between two plans")
    d.add_argument("base", help="base plan.json or plan directory")
    d.add_argument("head", help="head plan.json or plan directory")
    d.add_argument("--format", choices=["text", "markdown"], default="text")
    d.set_defaults(func=_diff)

    o = commands.add_parser("offboard", help="what retiring a domain deletes and keeps; writes its retired record")
    o.add_argument("domain", help="domain name (domains/<name>.yaml)")
    o.add_argument("--stack", required=True, help="stack name; reads Pulumi.<stack>.yaml")
    o.add_argument("--state", help="`pulumi stack export` output: real IDs and ARNs (recommended)")
    o.add_argument("--account-id", help="AWS account for names computed offline (without --state)")
    o.add_argument("--domains-dir", help="domain files folder (default domains/)")
    o.add_argument("--dry-run", action="store_true", help="print only; do not write the record")
    o.set_defaults(func=_offboard)

    s = commands.add_parser("smoke", help="check a deployed stack from the current kubeconfig")
    s.add_argument("--stack", required=True, help="stack name; reads Pulumi.<stack>.yaml")
    s.add_argument("--context", help="kubeconfig context (default: the local stack's, else the current one)")
    s.add_argument("--timeout", type=float, default=20, help="seconds per kubectl call or HTTP request")
    s.set_defaults(func=_smoke)

    for op, text in (("up", "deploy"), ("preview", "preview")):
        u = commands.add_parser(op, help=f"{text} an environment's stacks (Automation API; the Pulumi CLI is needed)")
        u.add_argument("--stack", required=True, help="the environment's stack: dev, prod or local")
        which = u.add_mutually_exclusive_group()
        which.add_argument("--domains", help="comma-separated domains: only their stacks (split environments)")
        which.add_argument("--changed-since", metavar="REF", help="only the stacks a git diff against REF touches")
        which.add_argument("--environment-only", action="store_true", help="only the environment's stack")
        u.add_argument("--parallel", type=int, default=4, help="domain stacks at a time (default 4)")
        u.add_argument("--org", default=os.environ.get("PULUMI_ORG", ""), help="Pulumi Cloud organization")
        u.add_argument(
            "--secrets-provider",
            default=os.environ.get("PULUMI_SECRETS_PROVIDER", ""),
            help="secrets provider of the stacks this creates (e.g. awskms://alias/dataplatform-pulumi)",
        )
        u.add_argument("--message", help="message of the updates")
        u.add_argument("--domains-dir", help="domain files folder (default domains/)")
        u.add_argument("--out", help="write <stack>.md (PR comment) per stack and report.json here")
        u.set_defaults(func=_orchestrate)

    m = commands.add_parser("stacks", help="the stacks a change touches, as a JSON preview matrix")
    m.add_argument("--stack", action="append", required=True, help="an environment's stack (repeatable)")
    m.add_argument("--changed-since", metavar="REF", required=True, help="git ref to diff against")
    m.add_argument("--domains-dir", help="domain files folder (default domains/)")
    m.set_defaults(func=_stacks)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
