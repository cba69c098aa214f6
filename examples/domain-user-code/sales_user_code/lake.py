"""The domain's lake bucket as a Dagster resource."""

import mimetypes
import os
import shutil
from pathlib import Path

import boto3
from botocore.config import Config
from dagster import ConfigurableResource


class LakeResource(ConfigurableResource):
    """Writes files under a key prefix of the lake bucket, or of a local folder when no bucket is set.

    The S3 client takes region, endpoint and credentials from the standard AWS environment variables
    (AWS_REGION, AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or the pod's IAM role).
    """

    bucket: str | None = None
    local_dir: str = "lake-local"

    def uri(self, key: str) -> str:
        if self.bucket:
            return f"s3://{self.bucket}/{key}"
        return (Path(self.local_dir) / key).resolve().as_uri()

    def put_file(self, path: Path, key: str) -> str:
        """Store one file at `key`; returns its URI."""
        self._put([(path, key)])
        return self.uri(key)

    def put_tree(self, root: Path, prefix: str) -> list[str]:
        """Store every file below `root` under `prefix`, keeping relative paths; returns the keys."""
        files = [
            (path, f"{prefix.rstrip('/')}/{path.relative_to(root).as_posix()}")
            for path in sorted(root.rglob("*"))
            if path.is_file()
        ]
        self._put(files)
        return [key for _, key in files]

    def _put(self, files: list[tuple[Path, str]]) -> None:
        if not self.bucket:
            for path, key in files:
                destination = Path(self.local_dir) / key
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination)
            return
        # MinIO serves buckets by path; virtual-host style would need wildcard DNS in the cluster.
        # botocore takes the endpoint from either variable.
        custom_endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        s3 = boto3.client(
            "s3",
            region_name=os.environ.get("AWS_REGION"),
            config=Config(s3={"addressing_style": "path"}) if custom_endpoint else None,
        )
        for path, key in files:
            # ContentType lets browsers render Data Docs served from the bucket.
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            s3.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})
