"""platformctl.records: stable JSON of every recorded resource, and a diff that catches any change."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import replace

from platformctl import records
from tests.harness import PROJECT_DIR, Program, Resource, Secret, program_for


def _resource(name: str, *, depends_on: list[str] | None = None, **inputs) -> Resource:
    return Resource(
        type="aws:s3/bucketV2:BucketV2",
        name=name,
        urn=f"urn:pulumi:dev::dataplatform::aws:s3/bucketV2:BucketV2::{name}",
        custom=True,
        inputs=dict(inputs),
        parent="urn:pulumi:dev::dataplatform::pulumi:pulumi:Stack::dataplatform-dev",
        provider="urn:pulumi:dev::dataplatform::pulumi:providers:aws::default::some-mock-id",
        protect=False,
        retain_on_delete=False,
        delete_before_replace=False,
        ignore_changes=[],
        aliases=[],
        depends_on=depends_on or [],
    )


def _program(*resources: Resource) -> Program:
    return Program(stack="dev", preview=False, resources=list(resources), exports={})


def test_record_order_and_dependency_order_do_not_change_the_json():
    a = _resource("a", depends_on=["urn:x", "urn:y"], bucket="a", tags={"z": "1", "b": "2"})
    b = _resource("b", bucket="b")
    a_swapped = replace(a, depends_on=["urn:y", "urn:x"], inputs={"tags": {"b": "2", "z": "1"}, "bucket": "a"})
    first = records.dumps(records.records(_program(a, b)))
    assert first == records.dumps(records.records(_program(b, a_swapped)))
    doc = json.loads(first)
    assert [r["name"] for r in doc["resources"]] == ["a", "b"]
    # The provider is named by URN: the mocks' ID is not part of what the program asked for.
    assert doc["resources"][0]["options"]["provider"] == "urn:pulumi:dev::dataplatform::pulumi:providers:aws::default"


def test_secrets_are_marked_and_a_changed_secret_is_reported():
    before = records.records(_program(_resource("a", password=Secret("one"))))
    after = records.records(_program(_resource("a", password=Secret("two"))))
    assert before["resources"][0]["inputs"]["password"] == {records.SECRET_KEY: "one"}
    assert records.diff(before, after) == [
        f'~ {before["resources"][0]["urn"]}: inputs.password.__secret__: "one" -> "two"'
    ]


def test_diff_reports_a_changed_input_a_changed_depends_on_and_added_or_removed_resources():
    base = records.records(_program(_resource("a", bucket="a"), _resource("b", bucket="b")))
    assert records.diff(base, copy.deepcopy(base)) == []

    changed_input = copy.deepcopy(base)
    changed_input["resources"][0]["inputs"]["bucket"] = "a2"
    assert records.diff(base, changed_input) == [f'~ {base["resources"][0]["urn"]}: inputs.bucket: "a" -> "a2"']

    changed_dep = copy.deepcopy(base)
    changed_dep["resources"][1]["options"]["depends_on"] = [base["resources"][0]["urn"]]
    (line,) = records.diff(base, changed_dep)
    assert line.startswith(f"~ {base['resources'][1]['urn']}: options.depends_on: [] -> [")

    fewer = records.records(_program(_resource("a", bucket="a"), _resource("c", bucket="c")))
    assert records.diff(base, fewer) == [f"- {base['resources'][1]['urn']}", f"+ {fewer['resources'][1]['urn']}"]


def test_the_whole_program_and_its_preview_record_as_json():
    full = records.records(program_for("dev"))
    assert json.loads(records.dumps(full)) == full
    assert len(full["resources"]) == len(program_for("dev").resources)
    preview = records.records(program_for("dev", preview=True))
    assert [r["urn"] for r in preview["resources"]] == [r["urn"] for r in full["resources"]]
    # Computed values a new stack does not know yet are recorded, as a marker.
    assert f'"{records.UNKNOWN}"' in records.dumps(preview)


def test_cli_diff_exits_non_zero_on_a_difference(tmp_path, capsys):
    base = records.records(_program(_resource("a", bucket="a")))
    head = copy.deepcopy(base)
    head["resources"][0]["options"]["protect"] = True
    (tmp_path / "a.json").write_text(records.dumps(base))
    (tmp_path / "b.json").write_text(records.dumps(head))
    # The identical case in process; the real CLI (exit code 1) below.
    assert records.main(["diff", str(tmp_path / "a.json"), str(tmp_path / "a.json")]) == 0
    assert capsys.readouterr().out == ""
    cmd = [sys.executable, "-m", "platformctl.records", "diff"]
    differs = subprocess.run(
        [*cmd, tmp_path / "a.json", tmp_path / "b.json"], cwd=PROJECT_DIR, capture_output=True, text=True
    )
    assert differs.returncode == 1
    assert differs.stdout.strip() == f"~ {base['resources'][0]['urn']}: options.protect: false -> true"
