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
        if self.bucket:
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            # ContentType lets browsers render Data Docs served from the bucket.
            self._s3().upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})
        else:
            destination = Path(self.local_dir) / key
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
        return self.uri(key)

    def put_tree(self, root: Path, prefix: str) -> list[str]:
        """Store every file below `root` under `prefix`, keeping relative paths; returns the keys."""
        keys = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            key = f"{prefix.rstrip('/')}/{path.relative_to(root).as_posix()}"
            self.put_file(path, key)
            keys.append(key)
        return keys

    def _s3(self):
        # MinIO serves buckets by path; virtual-host style would need wildcard DNS in the cluster.
        path_style = Config(s3={"addressing_style": "path"}) if os.environ.get("AWS_ENDPOINT_URL_S3") else None
        return boto3.client("s3", region_name=os.environ.get("AWS_REGION"), config=path_style)
