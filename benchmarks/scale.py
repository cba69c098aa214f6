"""Scale benchmark: evaluate the program under mocks with N generated domains, next to the SDK's floor.

    python benchmarks/scale.py [--sizes 1,10,50,100] [--repeat 2]
    python benchmarks/scale.py --split --sizes 10,100,500 --repeat 1 --no-floor

`--split` adds, per N, the split shape (docs/runbooks/split-stacks.md): the environment's stack in split
mode (one process, untimed for the target) and then, in a fresh process, the changed domain's stack
`dev-d001` reading the environment's `domainInputs` (the mocks answer its StackReference): its evaluation
time (fastest of `--repeat`), peak RSS and resources, beside the one stack's figures of the same N.
Targets: under 3 s and under 300 MiB at every N, and about the same at every N (slowest / fastest <= 1.5).

For each N, a fresh Python subprocess (so its peak RSS belongs to that N alone):
1. generates nothing itself: the parent wrote N valid, independent domain files (copies of
   domains/sales.yaml named d001, d002, ...; no consumes) into a temporary folder;
2. "startup": imports the SDKs and evaluates the program with 1 domain, timed from just before the
   parent spawned the process (interpreter start + imports + first evaluation, all cold);
3. "program": evaluates __main__ with the N domains under the mocks (platformctl.simulate.run_program),
   `--repeat` times, keeping the fastest (the machine is shared, so the minimum is the least noisy);
4. "floor": replays the recorded registrations of that run as bare pulumi.CustomResource /
   ComponentResource / ProviderResource objects (same types, names, inputs, parents and providers,
   so the same URNs) under the same mocks: the cost of registering those resources through the SDK
   with no program logic at all. Also `--repeat` times, fastest kept;
5. peak memory: resource.getrusage(RUSAGE_SELF).ru_maxrss read right after step 3 (before the floor
   replay), i.e. the high-water mark of the process that imported everything and evaluated the
   program with N domains.

Then, over all N: least-squares slopes of time vs resources for program and floor and their ratio
(target <= 3), linearity (marginal cost per added domain roughly constant), peak RSS at the largest
N (< 1 GiB) and startup (< 5 s). Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEMPLATE = PROJECT_DIR / "domains" / "sales.yaml"

SPLIT_TIME_TARGET_S = 3.0
SPLIT_RSS_TARGET_MIB = 300
SPLIT_FLAT_TARGET = 1.5  # slowest / fastest domain-stack evaluation over N
SLOPE_RATIO_TARGET = 3.0
LINEARITY_TARGET = 1.5  # largest / smallest marginal cost per added domain
PEAK_RSS_TARGET_MIB = 1024
STARTUP_TARGET_S = 5.0


# ---------------------------------------------------------------- domain files


def write_domains(folder: Path, count: int) -> None:
    import yaml

    template = yaml.safe_load(TEMPLATE.read_text())
    template.pop("consumes", None)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, count + 1):
        doc = copy.deepcopy(template)
        doc["name"] = f"d{i:03d}"
        (folder / f"{doc['name']}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


# ---------------------------------------------------------------- worker (one fresh process per N)


def _as_input(value: Any) -> Any:
    import pulumi

    from platformctl.simulate import Secret

    if isinstance(value, Secret):
        return pulumi.Output.secret(_as_input(value.value))
    if isinstance(value, dict):
        return {k: _as_input(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_input(v) for v in value]
    return value


def replay(records: list[Any]) -> Any:
    """Register the same resources as bare SDK resources under the same mocks; returns the Program."""
    import pulumi

    from platformctl.simulate import run_function

    inputs = [(r, _as_input(r.inputs)) for r in records]

    def program() -> None:
        made: dict[str, pulumi.Resource] = {}
        for r, props in inputs:
            parent = made.get(r.parent)
            if r.type.startswith("pulumi:providers:"):
                res: pulumi.Resource = pulumi.ProviderResource(
                    r.type.split(":", 2)[2], r.name, props, pulumi.ResourceOptions(parent=parent)
                )
            elif r.custom:
                provider = made.get(r.provider_urn) if r.provider_urn else None
                assert provider is None or isinstance(provider, pulumi.ProviderResource)
                res = pulumi.CustomResource(
                    r.type, r.name, props, pulumi.ResourceOptions(parent=parent, provider=provider)
                )
            else:
                component = pulumi.ComponentResource(r.type, r.name, None, pulumi.ResourceOptions(parent=parent))
                component.register_outputs({})
                res = component
            made[r.urn] = res

    return run_function(program, "dev")


def _scoped(scope: str) -> dict[str, str]:
    from platformctl.simulate import stack_config

    return {**stack_config("dev"), "dataplatform:scope": scope}


def environment_worker(domains_dir: Path, out: Path) -> dict[str, Any]:
    """The environment's stack in split mode with N domain files (first run of a fresh process, imports
    included: shown, not a target); its exports feed the domain stack."""
    from platformctl.simulate import run_program

    start = time.perf_counter()
    env = run_program("dev", domains_dir=domains_dir, config=_scoped("platform"))
    seconds = time.perf_counter() - start
    out.write_text(json.dumps({"dev": {"domainInputs": env.exports["domainInputs"]}}))
    return {"env_resources": len(env.resources), "env_s": seconds}


def domain_worker(domains_dir: Path, warmup_dir: Path, outputs: Path, repeat: int) -> dict[str, Any]:
    """The changed domain's stack, `dev-d001`, after a warm-up run with one domain file (imports, first use)."""
    from platformctl.simulate import run_program

    stack_outputs = json.loads(outputs.read_text())
    scoped = _scoped("domain/d001")
    run_program("dev-d001", domains_dir=warmup_dir, config=scoped, stack_outputs=stack_outputs)
    times, resources = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        resources = len(
            run_program("dev-d001", domains_dir=domains_dir, config=scoped, stack_outputs=stack_outputs).resources
        )
        times.append(time.perf_counter() - start)
    return {
        "domain_resources": resources,
        "domain_s": min(times),
        "domain_runs": times,
        "domain_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def worker(domains_dir: Path, warmup_dir: Path, repeat: int, t0: float, floor: bool = True) -> dict[str, Any]:
    from platformctl.simulate import run_program

    run_program("dev", domains_dir=warmup_dir)
    startup = time.time() - t0

    program_times = []
    records: list[Any] = []
    for _ in range(repeat):
        start = time.perf_counter()
        records = run_program("dev", domains_dir=domains_dir).resources
        program_times.append(time.perf_counter() - start)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    floor_times = []
    for _ in range(repeat if floor else 0):
        start = time.perf_counter()
        replayed = replay(records)
        floor_times.append(time.perf_counter() - start)
        if {r.urn for r in replayed.resources} != {r.urn for r in records}:
            raise SystemExit("the floor replay did not register the same URNs as the program")

    return {
        "resources": len(records),
        "program_s": min(program_times),
        "program_runs": program_times,
        "floor_s": min(floor_times) if floor_times else None,
        "floor_runs": floor_times,
        "peak_rss_mib": peak_kib / 1024,
        "startup_s": startup,
    }


# ---------------------------------------------------------------- parent


def slope(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def _run_worker(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _folders(size: int, work: Path) -> tuple[Path, Path]:
    domains_dir, warmup_dir = work / f"n{size}" / "domains", work / "warmup" / "domains"
    if not domains_dir.exists():
        write_domains(domains_dir, size)
    if not warmup_dir.exists():
        write_domains(warmup_dir, 1)
    return domains_dir, warmup_dir


def measure(size: int, work: Path, repeat: int, floor: bool = True) -> dict[str, Any]:
    domains_dir, warmup_dir = _folders(size, work)
    t0 = time.time()
    result = _run_worker("--worker", str(domains_dir), str(warmup_dir), str(repeat), repr(t0), str(int(floor)))
    return {"domains": size, **result}


def measure_split(size: int, work: Path, repeat: int) -> dict[str, Any]:
    """The environment's stack, then the changed domain's stack, each in a fresh process."""
    domains_dir, warmup_dir = _folders(size, work)
    outputs = work / f"n{size}" / "environment-outputs.json"
    env = _run_worker("--environment-worker", str(domains_dir), str(outputs))
    domain = _run_worker("--domain-worker", str(domains_dir), str(warmup_dir), str(outputs), str(repeat))
    return {"domains": size, **env, **domain}


def environment() -> str:
    load = os.getloadavg()
    import pulumi

    version = getattr(pulumi, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("pulumi")
    return (
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), Python {platform.python_version()}, "
        f"pulumi SDK {version}, load average {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="Scale benchmark of the program under mocks, next to the SDK floor.")
    parser.add_argument("--sizes", default="1,10,50,100", help="comma-separated domain counts")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per N (fastest kept)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--split", action="store_true", help="also measure the split shape (a domain's own stack)")
    parser.add_argument("--no-floor", action="store_true", help="skip the SDK floor replay (and its targets)")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",")})

    print(f"before: {environment()}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="dp-scale-") as tmp:
        for size in sizes:
            row = measure(size, Path(tmp), args.repeat, floor=not args.no_floor)
            if args.split:
                row["split"] = measure_split(size, Path(tmp), args.repeat)
            rows.append(row)
            floor = f"floor {row['floor_s']:.2f} s, " if row["floor_s"] is not None else ""
            print(
                f"  N={size:>3}: {row['resources']} resources, program {row['program_s']:.2f} s, "
                f"{floor}peak RSS {row['peak_rss_mib']:.0f} MiB",
                flush=True,
            )
            if args.split:
                sp = row["split"]
                print(
                    f"         split: domain stack {sp['domain_resources']} resources, {sp['domain_s']:.2f} s, "
                    f"peak RSS {sp['domain_peak_rss_mib']:.0f} MiB; environment stack {sp['env_resources']} "
                    f"resources, {sp['env_s']:.2f} s",
                    flush=True,
                )
    print(f"after:  {environment()}")

    if args.split:
        return split_report(rows, args)

    print()
    print(
        "| domains | resources | program s | program ms/resource | floor s | floor ms/resource | program/floor | peak RSS MiB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        n = r["resources"]
        print(
            f"| {r['domains']} | {n} | {r['program_s']:.2f} | {1000 * r['program_s'] / n:.2f} | {r['floor_s']:.2f} "
            f"| {1000 * r['floor_s'] / n:.2f} | {r['program_s'] / r['floor_s']:.2f} | {r['peak_rss_mib']:.0f} |"
        )

    checks: list[tuple[str, bool]] = []
    if len(rows) >= 2:
        xs = [float(r["resources"]) for r in rows]
        program_slope = slope(xs, [r["program_s"] for r in rows])
        floor_slope = slope(xs, [r["floor_s"] for r in rows])
        ratio = program_slope / floor_slope
        print(
            f"\nslope (least squares, time vs resources): program {1000 * program_slope:.2f} ms/resource, "
            f"floor {1000 * floor_slope:.2f} ms/resource, ratio {ratio:.2f}"
        )
        checks.append(
            (f"program slope within {SLOPE_RATIO_TARGET:g}x of the floor's ({ratio:.2f}x)", ratio <= SLOPE_RATIO_TARGET)
        )
        marginal = [
            (b["program_s"] - a["program_s"]) / (b["domains"] - a["domains"]) for a, b in itertools.pairwise(rows)
        ]
        per_domain = [
            (b["resources"] - a["resources"]) / (b["domains"] - a["domains"]) for a, b in itertools.pairwise(rows)
        ]
        spread = max(marginal) / min(marginal)
        steps = ", ".join(
            f"{a['domains']}->{b['domains']}: {1000 * m:.0f} ms/domain ({p:.0f} resources/domain)"
            for (a, b), m, p in zip(itertools.pairwise(rows), marginal, per_domain, strict=True)
        )
        print(f"marginal cost per added domain: {steps}")
        floor_steps = ", ".join(
            f"{a['domains']}->{b['domains']}: {1000 * (b['floor_s'] - a['floor_s']) / (b['domains'] - a['domains']):.0f} ms/domain"
            for a, b in itertools.pairwise(rows)
        )
        print(f"floor, same steps: {floor_steps}")
        checks.append(
            (
                f"linear: marginal cost per domain varies at most {LINEARITY_TARGET:g}x ({spread:.2f}x)",
                spread <= LINEARITY_TARGET,
            )
        )
    largest = rows[-1]
    checks.append(
        (
            f"peak RSS at {largest['domains']} domains < {PEAK_RSS_TARGET_MIB} MiB ({largest['peak_rss_mib']:.0f} MiB)",
            largest["peak_rss_mib"] < PEAK_RSS_TARGET_MIB,
        )
    )
    startups = sorted(r["startup_s"] for r in rows)
    startup = startups[len(startups) // 2]
    print(
        f"\nstartup (cold process: interpreter, imports, evaluate 1 domain), one per N: {', '.join(f'{s:.2f}' for s in startups)} s"
    )
    checks.append(
        (
            f"startup < {STARTUP_TARGET_S:g} s (median {startup:.2f} s, worst {startups[-1]:.2f} s)",
            startup < STARTUP_TARGET_S,
        )
    )
    print()
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    if args.json:
        args.json.write_text(json.dumps({"environment": environment(), "rows": rows}, indent=2))
    return 0 if all(ok for _, ok in checks) else 1


def split_report(rows: list[dict[str, Any]], args: argparse.Namespace) -> int:
    """The split shape beside the one stack, and the split targets (the one stack's own targets: without --split)."""
    print()
    print(
        "| domains | one stack: resources | one stack: s | one stack: peak RSS MiB "
        "| domain stack: resources | domain stack: s | domain stack: peak RSS MiB "
        "| environment stack (split): resources | environment stack (split): s, cold |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        sp = r["split"]
        print(
            f"| {r['domains']} | {r['resources']} | {r['program_s']:.2f} | {r['peak_rss_mib']:.0f} "
            f"| {sp['domain_resources']} | {sp['domain_s']:.2f} | {sp['domain_peak_rss_mib']:.0f} "
            f"| {sp['env_resources']} | {sp['env_s']:.2f} |"
        )
    times = [r["split"]["domain_s"] for r in rows]
    checks = [
        (
            f"domain stack < {SPLIT_TIME_TARGET_S:g} s at every N (worst {max(times):.2f} s)",
            max(times) < SPLIT_TIME_TARGET_S,
        ),
        (
            f"domain stack < {SPLIT_RSS_TARGET_MIB} MiB at every N "
            f"(worst {max(r['split']['domain_peak_rss_mib'] for r in rows):.0f} MiB)",
            all(r["split"]["domain_peak_rss_mib"] < SPLIT_RSS_TARGET_MIB for r in rows),
        ),
        (
            f"domain stack about the same at every N: slowest / fastest <= {SPLIT_FLAT_TARGET:g} "
            f"({max(times) / min(times):.2f})",
            max(times) / min(times) <= SPLIT_FLAT_TARGET,
        ),
    ]
    print()
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    if args.json:
        args.json.write_text(json.dumps({"environment": environment(), "rows": rows}, indent=2))
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode in ("--worker", "--environment-worker", "--domain-worker"):
        sys.path.insert(0, str(PROJECT_DIR))
        a = sys.argv[2:]
        if mode == "--worker":
            result = worker(Path(a[0]), Path(a[1]), int(a[2]), float(a[3]), floor=a[4] == "1")
        elif mode == "--environment-worker":
            result = environment_worker(Path(a[0]), Path(a[1]))
        else:
            result = domain_worker(Path(a[0]), Path(a[1]), Path(a[2]), int(a[3]))
        print(json.dumps(result))
    else:
        sys.exit(main())
