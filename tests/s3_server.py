"""A real S3 API on 127.0.0.1: moto's standalone server (`moto_server`), for the copy
tests and benchmarks. It keeps objects in memory, so a restart starts empty."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import boto3

from tests.servers import _Process

# moto takes any credentials; the SDK still needs some to sign requests.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "ops-test", "AWS_SECRET_ACCESS_KEY": "ops-test-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


class S3Server(_Process):
    def command(self) -> list[str]:
        binary = Path(sys.executable).with_name("moto_server")
        return [str(binary), "-H", "127.0.0.1", "-p", str(self.port)]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, bucket: str, prefix: str = "") -> str:
        """The BACKUP_COPY_URLS entry for `bucket`/`prefix` at this server."""
        return f"s3://{bucket}/{prefix}?endpoint={self.endpoint}&addressing=path"

    def client(self) -> Any:
        return boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1").client("s3", endpoint_url=self.endpoint)

    def bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name
