"""Object storage: ``s3://bucket/prefix`` URLs for data roots, checkpoints and reports.

Any S3-compatible store works (AWS S3, MinIO, Huawei OBS, IBM COS) through fsspec and
s3fs (``pip install "mindsec[s3]"``). Where to connect and who to be come from the usual
environment: ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (the server; passed to s3fs
explicitly, so it holds on botocore versions that do not read it), ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, ``AWS_DEFAULT_REGION``
(or ``AWS_REGION``), ``AWS_MAX_ATTEMPTS`` and ``AWS_RETRY_MODE``, which botocore reads.

- Reading goes through a local copy under ``MINDSEC_CACHE_DIR`` (default
  ``~/.cache/mindsec``, as :mod:`mindsec.data`), keyed by the URL and the objects' ETags
  and sizes: an unchanged object is downloaded once, a changed one again.
  :func:`fetch_data_root` copies an IDX data root, which :mod:`mindsec.data` then checks
  as it checks a local one; :func:`fetch` copies one object (a checkpoint, which
  :func:`mindsec.checkpoint.load` then reads).
- Writing is :func:`publish`: a finished local file or folder uploaded so that a reader
  never sees a partial object under its final key.
- :class:`Staging` gives a command local stand-ins for its URLs and publishes what the
  command wrote once it has succeeded (the ``mindsec`` command uses it for every option).

Every failure is one line naming the URL (:class:`~mindsec.errors.DataError` for the store,
:class:`~mindsec.errors.InputError` for the URL or the missing extra).
"""
import hashlib
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .atomic import atomic_path, is_temporary
from .errors import DataError, InputError, MindsecError

SCHEMES = ("s3",)
INSTALL = 'pip install "mindsec[s3]"'
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
           "InvalidToken", "AllAccessDisabled", "403"}


def is_url(path):
    """True for ``scheme://...`` strings (``s3://bucket/key``), False for local paths."""
    return isinstance(path, str) and bool(_URL.match(path))


def cache_root():
    """Where remote copies are kept: ``$MINDSEC_CACHE_DIR/s3`` (mindsec.data's cache)."""
    from .data import cache_dir   # pylint: disable=import-outside-toplevel
    return cache_dir() / "s3"


# ----------------------------------------------------------------------------- connection
def _split(url):
    """``s3://bucket/a/b/`` -> ``("bucket", "bucket/a/b")``, or one line on a bad URL."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in SCHEMES:
        raise InputError(f"{url}: only s3:// URLs are supported (AWS S3, MinIO, OBS and COS "
                         f"all speak it)")
    rest = rest.rstrip("/")
    bucket = rest.split("/", 1)[0]
    if not bucket:
        raise InputError(f"{url} names no bucket: expected s3://bucket/prefix")
    return bucket, rest


def endpoint():
    """The S3 server from the environment (``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``),
    or None for AWS's own."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def _filesystem(url):
    """A fresh s3fs file system (no instance or listing cache: credentials and ETags are
    read anew), or one line saying how to install the extra."""
    try:
        import fsspec  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        import s3fs    # pylint: disable=import-outside-toplevel
    except ImportError:
        raise InputError(f"{url} needs the s3 extra: {INSTALL}") from None
    kwargs = {"skip_instance_cache": True, "use_listings_cache": False}
    if endpoint():
        kwargs["endpoint_url"] = endpoint()
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
    if region:
        kwargs["client_kwargs"] = {"region_name": region}
    return s3fs.S3FileSystem(**kwargs)


def _code(exc):
    """The S3 error code behind ``exc`` (s3fs keeps botocore's error as the cause)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", ""))
        exc = exc.__cause__ or exc.__context__
    return ""


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _is_connection_error(exc):
    from botocore import exceptions as boto  # pylint: disable=import-outside-toplevel
    kinds = (boto.ConnectionError, boto.HTTPClientError, ConnectionError, TimeoutError)
    try:
        import aiohttp  # pylint: disable=import-outside-toplevel
        kinds += (aiohttp.ClientConnectionError,)
    except ImportError:
        pass
    return isinstance(exc, kinds)


def _store_error(exc, url):
    """One line naming ``url`` for what went wrong talking to the store."""
    from botocore import exceptions as boto  # pylint: disable=import-outside-toplevel
    code, text = _code(exc), _one_line(exc)
    bucket = url.partition("://")[2].split("/", 1)[0]
    if code == "NoSuchBucket" or "bucket does not exist" in text.lower():
        return DataError(f"{url}: bucket {bucket!r} does not exist on "
                         f"{endpoint() or 'AWS S3'}")
    if code in _DENIED or isinstance(exc, PermissionError):
        return DataError(f"{url}: access denied ({text}): check AWS_ACCESS_KEY_ID and "
                         f"AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket's policy")
    if isinstance(exc, (boto.NoCredentialsError, boto.PartialCredentialsError)):
        return DataError(f"{url}: no S3 credentials found: set AWS_ACCESS_KEY_ID and "
                         f"AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)")
    if _is_connection_error(exc):
        where = endpoint() or "AWS S3 (set AWS_ENDPOINT_URL for another server)"
        return DataError(f"{url}: cannot reach the S3 server at {where}: is it running "
                         f"and reachable? ({type(exc).__name__})")
    return DataError(f"{url}: {type(exc).__name__}: {text}")


@contextmanager
def _talking_to(url):
    """Turn the store's exceptions into one-line :class:`DataError`\\ s naming ``url``."""
    from botocore.exceptions import BotoCoreError  # pylint: disable=import-outside-toplevel
    try:
        yield
    except MindsecError:
        raise
    except (OSError, BotoCoreError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.filename and not _code(exc):   # this machine's
            raise DataError(f"{url}: cannot write its local copy {exc.filename}: "
                            f"{exc.strerror or _one_line(exc)}") from None
        raise _store_error(exc, url) from None
    except Exception as exc:   # pylint: disable=broad-except  (aiohttp, botocore.ClientError)
        if _is_connection_error(exc) or _code(exc):
            raise _store_error(exc, url) from None
        raise


def _info(fs, path):
    """The object's or prefix's listing entry, or None when there is nothing under
    ``path`` (a missing bucket, wrong credentials or an unreachable server raise)."""
    try:
        return fs.info(path)
    except FileNotFoundError as exc:
        if _code(exc) == "NoSuchBucket" or "bucket does not exist" in str(exc).lower():
            raise
        return None


def kind(url):
    """``"object"``, ``"folder"`` (a prefix with objects under it, or a bucket) or None
    when nothing is there. Raises one line for a missing bucket, wrong credentials or an
    unreachable server."""
    _, path = _split(url)
    with _talking_to(url):
        info = _info(_filesystem(url), path)
    if info is None:
        return None
    return "folder" if info.get("type") == "directory" else "object"


def _digest(*parts):
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _version(info):
    return [str(info.get("ETag", "")).strip('"'), int(info.get("size") or 0)]


def _download(fs, path, target, size, url):
    """``path`` into ``target`` (atomically), or one line when it arrives short."""
    with atomic_path(target) as tmp:
        fs.get_file(path, str(tmp))
        got = tmp.stat().st_size
        if got != size:
            raise DataError(f"{url}: download incomplete: {got} of {size} bytes")
    return target


# ----------------------------------------------------------------------------- reading
def fetch(url):
    """A local copy of the object at ``url`` in the cache (downloaded once per ETag and
    size); a missing object or a folder is one line. Returns the local path, whose name is
    the object's (``lenet5.ckpt``)."""
    _, path = _split(url)
    fs = _filesystem(url)
    with _talking_to(url):
        info = _info(fs, path)
        if info is None:
            raise DataError(f"{url} does not exist")
        if info.get("type") == "directory":
            raise DataError(f"{url} is a folder: name an object")
        size = int(info.get("size") or 0)
        target = cache_root() / _digest(f"s3://{path}") / \
            _digest(f"s3://{path}", *_version(info)) / path.rsplit("/", 1)[-1]
        if target.is_file() and target.stat().st_size == size:
            return target
        return _download(fs, path, target, size, url)


def fetch_data_root(url, names, what="data_dir"):
    """A local copy, in the cache, of the objects of a data root at ``url`` whose paths
    relative to it are among ``names`` (``train/train-images-idx3-ubyte``, ...; others
    under the prefix are not downloaded). The copy is made once per set of ETags and sizes,
    into a temporary folder renamed into place when complete, so an interrupted download
    is never taken for a data root. The caller checks the files (mindsec.data checks them
    as it checks a local root). Returns the local folder."""
    _, path = _split(url)
    fs = _filesystem(url)
    wanted = set(names)
    with _talking_to(url):
        listing = fs.find(path, detail=True)
        if not listing and _info(fs, path) is None:
            raise DataError(f"{what}: {url} does not exist (no objects under it)")
        found = {}
        for key, info in listing.items():
            rel = key[len(path):].lstrip("/")
            if rel in wanted and info.get("type") != "directory":
                found[rel] = info
        versions = sorted([rel, *_version(info)] for rel, info in found.items())
        target = cache_root() / _digest(f"s3://{path}") / _digest(f"s3://{path}", versions)
        if target.is_dir():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
        try:
            for rel, info in found.items():
                _download(fs, f"{path}/{rel}", partial / rel, int(info.get("size") or 0),
                          f"{url.rstrip('/')}/{rel}")
            try:
                os.rename(partial, target)
            except OSError:
                if not target.is_dir():      # not another process that got there first
                    raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return target


# ----------------------------------------------------------------------------- writing
def _upload_order(folder):
    """A folder's files (a killed write's temporaries left out), Markdown and JSON last: a
    reader that finds a report finds the figures and arrays it names."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and not is_temporary(p))
    return sorted(files, key=lambda p: p.suffix in (".md", ".json"))


def publish(local, url, chunksize=None):
    """Upload the file or folder ``local`` to ``url`` (a folder's files under the prefix,
    by their relative paths). Returns the URLs written.

    Each object appears under its final key whole or not at all. A file below two
    ``chunksize`` (s3fs's default: 50 MiB) goes up in one PUT: S3 stores an object only
    once its whole body has arrived, so a PUT cut short stores nothing and a reader keeps
    seeing the previous object, if any. A larger file goes up as a multipart upload: its
    parts are invisible under the key until the final CompleteMultipartUpload request,
    which S3 applies atomically; an error during the parts aborts the upload (s3fs does),
    and a process killed during them leaves only an incomplete upload, never an object
    (a bucket lifecycle rule ``AbortIncompleteMultipartUpload`` reclaims its parts). No
    file is streamed through ``fs.open(..., "wb")``: fsspec's file closes, so commits,
    whatever was written when an error leaves its ``with`` block.

    A folder is not one transaction: its objects appear one by one, each whole.
    """
    bucket, path = _split(url)
    local = Path(local)
    if not local.exists():
        raise DataError(f"cannot publish {local} to {url}: it does not exist")
    if path == bucket and local.is_file():
        raise InputError(f"{url} names a bucket: name an object to write {local.name} to")
    fs = _filesystem(url)
    base = url.rstrip("/")
    pairs = [(local, path, base)] if local.is_file() else [
        (f, f"{path}/{f.relative_to(local).as_posix()}",
         f"{base}/{f.relative_to(local).as_posix()}") for f in _upload_order(local)]
    written = []
    with _talking_to(url):
        for source, key, target in pairs:
            fs.put_file(str(source), key, chunksize=chunksize)
            written.append(target)
    return written


# ----------------------------------------------------------------------------- staging
def _signature(path):
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


class Staging:
    """Local stand-ins for a job's URLs, published when the job has succeeded.

    :meth:`file` gives a local path for an object the job reads or writes (a copy of the
    object when it exists: a checkpoint to load, resume or overwrite); :meth:`folder` an
    empty local folder for an output prefix. :meth:`publish` uploads every stand-in folder
    and every stand-in file the job created or changed; closing removes the stand-ins.
    A job that fails publishes nothing: what was under the URLs before stays as it was.
    Stand-ins live under ``cache_root()/staging``, at paths that end like their URLs
    (``.../s3/bucket/models/lenet5.ckpt``).
    """

    def __init__(self):
        base = cache_root() / "staging"
        try:
            base.mkdir(parents=True, exist_ok=True)
            self.root = Path(tempfile.mkdtemp(prefix="run-", dir=base))
        except OSError as exc:
            raise DataError(f"cannot make a staging folder in {base}: {exc.strerror} (set "
                            f"MINDSEC_CACHE_DIR to a writable folder)") from None
        self._outputs = []          # (local, url, signature when staged or "folder")
        self._kept = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Remove the stand-ins (kept when publishing them failed)."""
        if not self._kept:
            shutil.rmtree(self.root, ignore_errors=True)

    def _local(self, url):
        scheme, _, rest = url.partition("://")
        return self.root / scheme.lower() / rest.strip("/")

    def file(self, url, option):
        """The local path standing for the object at ``url`` (``option`` names it in
        messages): a copy of the object when it exists, else a path not yet written."""
        local = self._local(url)
        found = kind(url)
        if found == "folder":
            raise InputError(f"{option} {url} is a folder: name an object")
        local.parent.mkdir(parents=True, exist_ok=True)
        if found == "object":
            shutil.copyfile(fetch(url), local)
        self._outputs.append((local, url, _signature(local)))
        return local

    def folder(self, url, option):
        """An empty local folder standing for the prefix ``url``, published whole."""
        if kind(url) == "object":
            raise InputError(f"{option} {url} is an object: name a folder (a prefix)")
        local = self._local(url)
        self._outputs.append((local, url, "folder"))
        return local

    def publish(self, log=print):
        """Upload what the job wrote: the stand-in folders that exist and the stand-in
        files it created or changed. Returns the URLs written. When an upload fails, the
        stand-ins are kept (the error says where), so a finished job's results survive."""
        try:
            return self._publish(log)
        except MindsecError as exc:
            self._kept = True
            raise DataError(f"{self.unmap(str(exc))}; the job's outputs are kept in "
                            f"{self.root}") from None

    def _publish(self, log):
        written = []
        for local, url, before in self._outputs:
            if before == "folder":
                if local.is_dir() and any(p.is_file() for p in local.rglob("*")):
                    objects = publish(local, url)
                    written += objects
                    log(f"published {len(objects)} objects to {url}")
            elif local.is_file() and _signature(local) != before:
                written += publish(local, url)
                log(f"published {url}")
        return written

    def unmap(self, text):
        """``text`` with the stand-ins' paths written as their URLs."""
        for local, url, _ in sorted(self._outputs, key=lambda o: -len(str(o[0]))):
            text = text.replace(str(local), url.rstrip("/"))
        return text


__all__ = ["is_url", "cache_root", "endpoint", "kind", "fetch", "fetch_data_root",
           "publish", "Staging", "SCHEMES", "INSTALL"]
