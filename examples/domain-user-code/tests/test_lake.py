"""LakeResource against S3 (moto stands in for AWS and for the local stack's MinIO) and a local folder."""

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from sales_user_code.lake import LakeResource

MINIO = "http://minio.lake.svc:9000"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "validations").mkdir(parents=True)
    (root / "index.html").write_text("<html></html>")
    (root / "validations" / "run.html").write_text("<html></html>")
    return root


@pytest.fixture(params=["aws", "minio", "minio-global-endpoint"])
def bucket(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    if request.param.startswith("minio"):
        # botocore reads the S3-only variable or the global one.
        variable = "AWS_ENDPOINT_URL" if request.param == "minio-global-endpoint" else "AWS_ENDPOINT_URL_S3"
        monkeypatch.setenv(variable, MINIO)
        monkeypatch.setenv("MOTO_S3_CUSTOM_ENDPOINTS", MINIO)
    with mock_aws():
        boto3.client("s3", region_name="eu-west-1").create_bucket(
            Bucket="sales-lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        yield "sales-lake"


def test_put_tree_uploads_under_prefix_with_content_types(bucket: str, tree: Path) -> None:
    lake = LakeResource(bucket=bucket)

    keys = lake.put_tree(tree, "docs/")

    assert keys == ["docs/index.html", "docs/validations/run.html"]
    s3 = boto3.client("s3", region_name="eu-west-1")
    assert s3.head_object(Bucket=bucket, Key="docs/index.html")["ContentType"] == "text/html"
    assert lake.uri("docs/index.html") == "s3://sales-lake/docs/index.html"


@pytest.mark.parametrize(
    ("bucket", "url"),
    [
        ("aws", "https://sales-lake.s3.eu-west-1.amazonaws.com/docs/index.html"),
        # MinIO has no wildcard DNS for virtual-host buckets in the cluster.
        ("minio", f"{MINIO}/sales-lake/docs/index.html"),
        ("minio-global-endpoint", f"{MINIO}/sales-lake/docs/index.html"),
    ],
    indirect=["bucket"],
)
def test_addressing_style(bucket: str, url: str, tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    # Clients copy the session's event hooks, so hook a fresh default session.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-send.s3.PutObject", lambda request, **_: sent.append(request.url))

    LakeResource(bucket=bucket).put_file(tree / "index.html", "docs/index.html")

    assert sent == [url]


def test_without_bucket_writes_to_local_folder(tree: Path, tmp_path: Path) -> None:
    lake = LakeResource(local_dir=str(tmp_path / "lake"))

    lake.put_file(tree / "index.html", "dbt/artifacts/manifest.json")

    assert (tmp_path / "lake" / "dbt" / "artifacts" / "manifest.json").read_text() == "<html></html>"
    assert lake.uri("docs/index.html") == (tmp_path / "lake" / "docs" / "index.html").as_uri()
