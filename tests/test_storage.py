"""Object storage (``s3://`` URLs) against a real S3-protocol server on loopback.

moto's server runs in a thread of the test process, with IAM authentication on: requests
are signed with an access key created on it, so wrong credentials are refused as by AWS.
The commands run as a user runs them, in a fresh interpreter, with the endpoint and the
credentials in the usual environment variables.
"""
import json
import logging
import re
import shutil
import signal
import socket
import textwrap
from pathlib import Path

import boto3
import numpy as np
import pytest
from moto import settings as moto_settings
from moto.server import ThreadedMotoServer

from conftest import error_lines, run_script
from mindsec import cli, data, storage
from mindsec.errors import DataError, InputError

BUCKET = "mindsec"
CLI = ["-m", "mindsec.cli"]
TINY = ["--device", "CPU", "--test-samples", "100"]
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
MiB = 1 << 20


@pytest.fixture(scope="module")
def server():
    """(endpoint, key id, secret) of a moto S3 server that checks signatures."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    iam.create_user(UserName="pipeline")
    key = iam.create_access_key(UserName="pipeline")["AccessKey"]
    iam.put_user_policy(UserName="pipeline", PolicyName="s3", PolicyDocument=POLICY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)   # sign or be refused
        yield endpoint, key["AccessKeyId"], key["SecretAccessKey"]
    moto.stop()


@pytest.fixture(scope="module")
def s3(server):
    """A boto3 client of the test's own, to set the bucket up and look into it."""
    endpoint, key, secret = server
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)


@pytest.fixture(scope="module")
def idx_root(source, tmp_path_factory):
    """A small real MNIST root (600 train / 200 test digits) as IDX files."""
    root = tmp_path_factory.mktemp("mnist-small")
    for split, n in (("train", 600), ("test", 200)):
        folder = data.split_dir(source.root, split)
        images, labels = (folder / name for name in data.FILES[split])
        x = np.fromfile(images, np.uint8, offset=16).reshape(-1, 28, 28)[:n]
        y = np.fromfile(labels, np.uint8, offset=8)[:n]
        data.write_idx(root / split, split, x, y)
    return root


@pytest.fixture(scope="module")
def bucket(s3, idx_root):
    """The bucket, holding the IDX root under ``mnist/``."""
    s3.create_bucket(Bucket=BUCKET)
    for path in sorted(idx_root.rglob("*-ubyte")):
        s3.upload_file(str(path), BUCKET, f"mnist/{path.relative_to(idx_root).as_posix()}")
    return BUCKET


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def env(server, bucket, cache, monkeypatch):
    """The environment a pipeline step gets: endpoint, credentials, region, cache."""
    endpoint, key, secret = server
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(cache / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(cache / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("MINDSEC_CACHE_DIR", str(cache))
    return monkeypatch


def keys(s3, prefix):
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {o["Key"]: o for o in listing.get("Contents", [])}


def mindsec(*args):
    return run_script(*CLI, *args, timeout=300)


def mindsec_in_process(capsys, *args):
    """``mindsec ARGS`` in this interpreter: (exit code, stderr lines)."""
    code = cli.main([str(a) for a in args])
    return code, error_lines(capsys.readouterr().err)


# ----------------------------------------------------------------------------- the pipeline
def test_train_then_attack_with_data_model_and_report_in_the_bucket(env, s3, cache, idx_root):
    ckpt, data_url = f"s3://{BUCKET}/models/lenet5.ckpt", f"s3://{BUCKET}/mnist"
    proc = mindsec("train", *TINY, "--data-dir", data_url, "--ckpt", ckpt, "--epochs", "1",
                   "--train-samples", "500", "--out", f"s3://{BUCKET}/runs/train")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"a copy of {data_url}" in proc.stdout and f"published {ckpt}" in proc.stdout
    model = keys(s3, "models/")["models/lenet5.ckpt"]
    assert "runs/train/train.json" in keys(s3, "runs/train/")

    proc = mindsec("attack", *TINY, "--data-dir", data_url, "--ckpt", ckpt,
                   "--out", f"s3://{BUCKET}/reports/fgsm")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "loaded" in proc.stdout and "training LeNet5" not in proc.stdout
    report = keys(s3, "reports/fgsm/")
    assert {f"reports/fgsm/{name}" for name in ("summary.json", "report.md",
                                                "fgsm_examples.png", "fgsm_eps_curve.png")} \
        <= set(report)
    summary = json.loads(s3.get_object(Bucket=BUCKET, Key="reports/fgsm/summary.json")
                         ["Body"].read())
    assert summary["test_images"] == 100 and summary["accuracy_after"] <= \
        summary["accuracy_before"]
    assert keys(s3, "models/")["models/lenet5.ckpt"]["ETag"] == model["ETag"]  # read only
    images = (idx_root / "train" / data.FILES["train"][0]).stat().st_size
    copies = [p for p in (cache / "s3").rglob(data.FILES["train"][0])
              if p.stat().st_size == images]
    assert len(copies) == 1                        # both steps read the one cached copy
    assert not any((cache / "s3" / "staging").iterdir())     # the stand-ins are removed


def test_train_if_missing_publishes_the_checkpoint_it_trained(env, s3, tmp_path):
    ckpt = f"s3://{BUCKET}/models/fresh.ckpt"
    proc = mindsec("attack", "--device", "CPU", "--test-samples", "50", "--data-dir",
                   f"s3://{BUCKET}/mnist", "--ckpt", ckpt, "--train-if-missing", "--epochs", "1",
                   "--train-samples", "500", "--out", tmp_path / "fgsm")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "models/fresh.ckpt" in keys(s3, "models/") and f"published {ckpt}" in proc.stdout
    assert (tmp_path / "fgsm" / "summary.json").is_file()        # a local --out, as before


def test_a_missing_remote_checkpoint_is_refused_naming_the_url(env, s3, capsys, tmp_path):
    ckpt = f"s3://{BUCKET}/models/typo.ckpt"
    code, lines = mindsec_in_process(capsys, "attack", *TINY, "--ckpt", ckpt,
                                     "--out", f"s3://{BUCKET}/reports/typo")
    assert code == 2
    assert lines == [f"error: --ckpt {ckpt} does not exist: pass a trained checkpoint, or "
                     f"--train-if-missing to train a LeNet5 there"]
    assert not keys(s3, "models/typo") and not keys(s3, "reports/typo")


# ----------------------------------------------------------------------------- failures
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def truncated(s3, idx_root, bucket):
    """``broken/``: the IDX root with its training images cut short by 1000 bytes."""
    for path in sorted(idx_root.rglob("*-ubyte")):
        body = path.read_bytes()
        if path.name == data.FILES["train"][0]:
            body = body[:-1000]
        s3.put_object(Bucket=BUCKET, Key=f"broken/{path.relative_to(idx_root).as_posix()}",
                      Body=body)
    return f"s3://{BUCKET}/broken"


@pytest.mark.parametrize("case", ["no bucket", "wrong secret", "server down", "truncated",
                                  "no objects"])
def test_store_failures_are_one_line_exit_2_and_write_nothing(case, env, s3, truncated,
                                                              capsys, tmp_path):
    data_url = {"no bucket": "s3://no-such-bucket/mnist", "truncated": truncated,
                "no objects": f"s3://{BUCKET}/nothing-here"}.get(case, f"s3://{BUCKET}/mnist")
    expected = {
        "no bucket": f"error: {data_url}: bucket 'no-such-bucket' does not exist on ",
        "wrong secret": f"error: {data_url}: access denied (",
        "server down": f"error: {data_url}: cannot reach the S3 server at http://127.0.0.1:",
        "truncated": f"error: {truncated}/train/train-images-idx3-ubyte is corrupt or "
                     f"truncated: ",
        "no objects": f"error: data_dir: {data_url} does not exist (no objects under it)",
    }[case]
    if case == "wrong secret":
        env.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    if case == "server down":
        env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
        env.setenv("AWS_MAX_ATTEMPTS", "1")
    # the data root comes first: outputs on the bucket would fail first on their own URLs
    out, ckpt = ("runs/failed", "models/failed.ckpt") if case in ("truncated", "no objects") \
        else (None, None)
    args = ["train", *TINY, "--data-dir", data_url, "--epochs", "1"]
    if out:
        args += ["--out", f"s3://{BUCKET}/{out}", "--ckpt", f"s3://{BUCKET}/{ckpt}"]
    else:
        args += ["--out", tmp_path / "out", "--ckpt", tmp_path / "lenet5.ckpt"]
    code, lines = mindsec_in_process(capsys, *args)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith(expected), lines
    if out:
        assert not keys(s3, out) and not keys(s3, ckpt)


def test_an_output_in_a_missing_bucket_is_refused_before_any_work(env, capsys):
    out = "s3://no-such-bucket/reports/fgsm"
    code, lines = mindsec_in_process(capsys, "attack", *TINY, "--out", out)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"error: {out}: bucket 'no-such-bucket' does not exist")


def test_without_the_extra_a_url_is_one_line():
    blocker = textwrap.dedent("""
        import sys
        class NoS3fs:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "s3fs":
                    raise ImportError(f"No module named {name!r}")
        sys.meta_path.insert(0, NoS3fs())
        from mindsec.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    ckpt = f"s3://{BUCKET}/models/lenet5.ckpt"
    proc = run_script("-c", blocker, "attack", "--ckpt", ckpt, timeout=120)
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [f'error: {ckpt} needs the s3 extra: pip install '
                                        f'"mindsec[s3]"']


# ----------------------------------------------------------------------------- publishing
@pytest.fixture
def big_file(tmp_path):
    """11 MiB: three parts of a multipart upload at a 5 MiB chunk size."""
    path = tmp_path / "big.ckpt"
    path.write_bytes(np.random.default_rng(0).bytes(11 * MiB))
    return path


def uploads(s3, key):
    return [u for u in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
            if u["Key"] == key]


def test_a_failure_during_a_multipart_upload_leaves_no_object(env, s3, big_file, monkeypatch):
    import s3fs  # pylint: disable=import-outside-toplevel
    call = s3fs.S3FileSystem._call_s3

    async def failing(self, method, *args, **kwargs):
        if method == "upload_part" and kwargs.get("PartNumber") == 2:
            raise OSError("connection lost in the middle of part 2")
        return await call(self, method, *args, **kwargs)
    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", failing)
    url = f"s3://{BUCKET}/models/big.ckpt"
    with pytest.raises(DataError, match=r"^s3://mindsec/models/big.ckpt: OSError: connection "):
        storage.publish(big_file, url, chunksize=5 * MiB)
    assert "models/big.ckpt" not in keys(s3, "models/")
    assert not uploads(s3, "models/big.ckpt")          # aborted, not left behind
    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", call)
    assert storage.publish(big_file, url, chunksize=5 * MiB) == [url]
    assert keys(s3, "models/")["models/big.ckpt"]["Size"] == 11 * MiB


def test_a_publish_killed_mid_upload_leaves_no_object(env, s3, big_file):
    killer = textwrap.dedent("""
        import os, signal, sys
        import s3fs
        from mindsec import storage
        call = s3fs.S3FileSystem._call_s3
        async def dying(self, method, *args, **kwargs):
            if method == "upload_part" and kwargs.get("PartNumber") == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return await call(self, method, *args, **kwargs)
        s3fs.S3FileSystem._call_s3 = dying
        storage.publish(sys.argv[1], sys.argv[2], chunksize=5 << 20)
    """)
    key = "models/killed.ckpt"
    proc = run_script("-c", killer, big_file, f"s3://{BUCKET}/{key}", timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert key not in keys(s3, "models/")               # parts are invisible under the key
    for upload in uploads(s3, key):                     # what a lifecycle rule would do
        s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"])


def test_outputs_that_cannot_be_published_are_kept(env, s3):
    url = f"s3://{BUCKET}/models/kept.ckpt"
    with storage.Staging() as staging:
        local = staging.file(url, "--ckpt")
        local.write_bytes(b"weights of a finished run")
        env.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        with pytest.raises(DataError, match=rf"^{url}: access denied \(.*; the job's outputs are "
                                            rf"kept in {re.escape(str(staging.root))}$"):
            staging.publish()
    assert local.read_bytes() == b"weights of a finished run"
    assert "models/kept.ckpt" not in keys(s3, "models/")
    shutil.rmtree(staging.root)


# ----------------------------------------------------------------------------- the cache
def test_a_changed_object_is_fetched_again_an_unchanged_one_is_not(env, s3):
    url = f"s3://{BUCKET}/models/notes.json"
    s3.put_object(Bucket=BUCKET, Key="models/notes.json", Body=b'{"v": 1}')
    first = storage.fetch(url)
    assert first.read_bytes() == b'{"v": 1}' and first.name == "notes.json"
    assert storage.fetch(url) == first
    s3.put_object(Bucket=BUCKET, Key="models/notes.json", Body=b'{"v": 22}')
    second = storage.fetch(url)
    assert second != first and second.read_bytes() == b'{"v": 22}'
    with pytest.raises(DataError, match=r"^s3://mindsec/models/none.json does not exist$"):
        storage.fetch(f"s3://{BUCKET}/models/none.json")


def test_a_data_root_is_copied_once_and_checked_like_a_local_one(env, idx_root):
    url = f"s3://{BUCKET}/mnist"
    source = data.resolve_data_dir(url)
    assert source.origin == f"argument, a copy of {url}" and not source.is_subset
    assert data.validate_split(source.root, "train") == 600
    assert data.validate_split(source.root, "test") == 200
    assert data.resolve_data_dir(url + "/").root == source.root
    fashion = data.resolve_data_dir(url, dataset="fashion-mnist")   # any MNIST-format root
    assert fashion.root == source.root and fashion.name == "fashion-mnist"
    for path in idx_root.rglob("*-ubyte"):
        assert (source.root / path.relative_to(idx_root)).read_bytes() == path.read_bytes()


def test_urls_are_told_from_paths():
    assert storage.is_url("s3://bucket/prefix") and storage.is_url("S3://b")
    assert not storage.is_url("runs/lenet5.ckpt") and not storage.is_url(Path("s3:/x"))
    with pytest.raises(InputError, match="only s3:// URLs are supported"):
        storage.kind("gs://bucket/x")
    with pytest.raises(InputError, match="names no bucket"):
        storage.kind("s3:///x")
