"""Both storage backends through the same tests; S3 runs against moto's server on localhost."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from reelforge.errors import ConfigError, ReelforgeError
from reelforge.settings import Settings
from reelforge.storage import LocalStorage, Storage, StorageNotFound, storage_from_settings
from reelforge.storage.s3 import S3Storage


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3_bucket(moto_endpoint: str, aws_env: None) -> str:
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    return bucket


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return storage_from_settings(Settings(data_dir=tmp_path / "data"))
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return storage_from_settings(
        Settings(
            data_dir=tmp_path / "data",
            storage_url=f"s3://{bucket}/some/prefix",
            s3_endpoint_url=endpoint,
        )
    )


def _file(tmp_path: Path, data: bytes, name: str = "src.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_put_open_exists_delete(storage: Storage, tmp_path: Path) -> None:
    data = b"\x00\x01fake mp4 bytes" * 1000
    key = "video_abc/video.mp4"
    assert not storage.exists(key)
    storage.put_file(key, _file(tmp_path, data), "video/mp4")
    assert storage.exists(key)
    with storage.open(key) as stream:
        assert stream.read() == data
    storage.delete(key)
    assert not storage.exists(key)
    storage.delete(key)  # missing: no error


def test_put_replaces(storage: Storage, tmp_path: Path) -> None:
    storage.put_file("v/a.bin", _file(tmp_path, b"old"), "application/octet-stream")
    storage.put_file("v/a.bin", _file(tmp_path, b"new!"), "application/octet-stream")
    with storage.open("v/a.bin") as stream:
        assert stream.read() == b"new!"


def test_nested_keys_are_independent(storage: Storage, tmp_path: Path) -> None:
    storage.put_file("a/b/c/deep.json", _file(tmp_path, b"{}"), "application/json")
    storage.put_file("a/b/sibling.txt", _file(tmp_path, b"hi"), "text/plain")
    assert storage.exists("a/b/c/deep.json")
    assert not storage.exists("a/b")  # a "directory" is not an object
    assert not storage.exists("a/b/c")
    storage.delete("a/b/c/deep.json")
    assert not storage.exists("a/b/c/deep.json")
    with storage.open("a/b/sibling.txt") as stream:
        assert stream.read() == b"hi"


def test_open_missing_raises_not_found(storage: Storage) -> None:
    with pytest.raises(StorageNotFound) as info:
        storage.open("video_missing/video.mp4")
    assert isinstance(info.value, ReelforgeError)
    assert info.value.status == 404
    assert "video_missing/video.mp4" in str(info.value)


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../escape.mp4", "a/../../b", "a/..", "a\\b", "a//b", "./a", "a/"],
)
def test_bad_keys_rejected(storage: Storage, tmp_path: Path, key: str) -> None:
    src = _file(tmp_path, b"x")
    with pytest.raises(ValueError):
        storage.put_file(key, src, "text/plain")
    with pytest.raises(ValueError):
        storage.open(key)
    with pytest.raises(ValueError):
        storage.exists(key)
    with pytest.raises(ValueError):
        storage.delete(key)
    with pytest.raises(ValueError):
        storage.presigned_url(key, 60)


def test_dots_inside_names_are_fine(storage: Storage, tmp_path: Path) -> None:
    storage.put_file("v/clip..final.mp4", _file(tmp_path, b"ok"), "video/mp4")
    assert storage.exists("v/clip..final.mp4")


def test_presigned_url(storage: Storage, tmp_path: Path) -> None:
    data = b"presigned bytes"
    storage.put_file("video_p/video.mp4", _file(tmp_path, data), "video/mp4")
    url = storage.presigned_url("video_p/video.mp4", 300)
    if isinstance(storage, LocalStorage):
        assert url is None
        return
    assert url is not None
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "video/mp4"


# Local specifics.


def test_local_layout_and_atomic_write(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    storage = storage_from_settings(settings)
    assert isinstance(storage, LocalStorage)
    storage.put_file("video_abc/video.mp4", _file(tmp_path, b"abc"), "video/mp4")
    target = tmp_path / "data" / "media" / "video_abc" / "video.mp4"
    assert target.read_bytes() == b"abc"
    assert [p.name for p in target.parent.iterdir()] == ["video.mp4"]  # no temp left behind
    storage.delete("video_abc/video.mp4")
    assert not target.parent.exists()  # empty parent cleaned up
    assert (tmp_path / "data" / "media").is_dir()  # never the root


def test_local_failed_copy_leaves_nothing(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    storage.put_file("v/a.bin", _file(tmp_path, b"old"), "application/octet-stream")
    with pytest.raises(FileNotFoundError):
        storage.put_file("v/a.bin", tmp_path / "does-not-exist", "application/octet-stream")
    assert (tmp_path / "media" / "v" / "a.bin").read_bytes() == b"old"
    assert [p.name for p in (tmp_path / "media" / "v").iterdir()] == ["a.bin"]


# S3 specifics.


def test_s3_prefix_is_applied(moto_endpoint: str, s3_bucket: str, tmp_path: Path) -> None:
    storage = storage_from_settings(
        Settings(storage_url=f"s3://{s3_bucket}/tenant/media/", s3_endpoint_url=moto_endpoint)
    )
    assert isinstance(storage, S3Storage)
    storage.put_file("video_x/video.mp4", _file(tmp_path, b"x"), "video/mp4")
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert keys == ["tenant/media/video_x/video.mp4"]
    head = client.head_object(Bucket=s3_bucket, Key="tenant/media/video_x/video.mp4")
    assert head["ContentType"] == "video/mp4"


def test_s3_without_prefix(moto_endpoint: str, s3_bucket: str, tmp_path: Path) -> None:
    storage = storage_from_settings(
        Settings(storage_url=f"s3://{s3_bucket}", s3_endpoint_url=moto_endpoint)
    )
    storage.put_file("k.txt", _file(tmp_path, b"x"), "text/plain")
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    assert [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]] == ["k.txt"]


def test_s3_missing_bucket_is_config_error(moto_endpoint: str, aws_env: None) -> None:
    with pytest.raises(ConfigError, match="no-such-bucket-here"):
        storage_from_settings(
            Settings(storage_url="s3://no-such-bucket-here/x", s3_endpoint_url=moto_endpoint)
        )
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    names = [b["Name"] for b in client.list_buckets().get("Buckets", [])]
    assert "no-such-bucket-here" not in names  # nothing created implicitly


def test_s3_unreachable_endpoint_is_config_error(aws_env: None) -> None:
    with pytest.raises(ConfigError, match="bucket"):
        S3Storage("media", endpoint_url=f"http://127.0.0.1:{_free_port()}", client=None)


@pytest.mark.parametrize("url", ["gs://bucket/x", "file:///tmp/media", "bucket/x", "s3://"])
def test_bad_storage_url_is_config_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="REELFORGE_STORAGE_URL") as info:
        storage_from_settings(Settings(data_dir=tmp_path, storage_url=url))
    assert info.value.param == "REELFORGE_STORAGE_URL"


def test_presigned_url_bounds(moto_endpoint: str, s3_bucket: str) -> None:
    storage = storage_from_settings(
        Settings(storage_url=f"s3://{s3_bucket}", s3_endpoint_url=moto_endpoint)
    )
    with pytest.raises(ValueError):
        storage.presigned_url("k", 0)
    with pytest.raises(ValueError):
        storage.presigned_url("k", 8 * 24 * 3600)
