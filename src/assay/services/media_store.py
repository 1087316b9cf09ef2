"""Media in object stores (``s3://``, ``gs://``, ``az://``) read through fsspec, and the guard on
web URLs (``https://``) that keeps the server from being pointed at private addresses.

Object-store media must lie under a configured prefix (``ASSAY_MEDIA_BUCKETS``: ``s3://bucket``
or ``s3://bucket/some/prefix``); the server's own credentials (the usual AWS/Google/Azure
environment) would otherwise let a project's manager read any object they reach. The S3 endpoint
(``ASSAY_S3_ENDPOINT_URL``, for MinIO, Ceph or a test server) is the operator's choice and is
trusted wherever it is, loopback included; a record's own URLs never are.

The server serves object-store media by a streaming proxy (:func:`read_range`), not by
redirecting to a signed URL: the caller's right to the record is checked on every request, the
bucket need not be reachable from browsers (nor configured for CORS), no URL that outlives the
check is handed out, and one code path serves every fsspec store. Byte ranges are read from the
store as ranged GETs, so audio and video seek without the server downloading the whole file.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from assay.domain.errors import NotFound, PermissionDenied, ValidationError

__all__ = [
    "OBJECT_SCHEMES",
    "ObjectStores",
    "check_web_url",
    "is_object_url",
    "is_web_url",
]

# URL scheme → (fsspec protocol, the package that brings it)
OBJECT_SCHEMES: dict[str, tuple[str, str]] = {
    "s3": ("s3", "s3fs"),
    "gs": ("gcs", "gcsfs"),
    "az": ("az", "adlfs"),
}
FIRST_CHUNK = 256 * 1024  # small first read: the first bytes reach the browser sooner
CHUNK = 4 * 1024 * 1024


def scheme_of(url: str) -> str:
    head, sep, _ = url.partition("://")
    return head.lower() if sep else ""


def is_object_url(url: str) -> bool:
    return scheme_of(url) in OBJECT_SCHEMES


def is_web_url(url: str) -> bool:
    return scheme_of(url) in ("http", "https")


def _split(url: str) -> tuple[str, str, str]:
    """(scheme, bucket, key) of an object-store URL."""
    scheme = scheme_of(url)
    rest = url.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    return scheme, bucket, key


@dataclass(frozen=True)
class ObjectStores:
    """The object-store prefixes media may come from, and how to reach S3."""

    prefixes: tuple[str, ...] = ()
    s3_endpoint_url: str | None = None

    def trusted_hosts(self) -> frozenset[str]:
        """Hosts (``host:port``) the server may reach even on private addresses: the configured
        S3 endpoint only."""
        if not self.s3_endpoint_url:
            return frozenset()
        parts = urlsplit(self.s3_endpoint_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return frozenset({f"{(parts.hostname or '').lower()}:{port}"})

    def allowed(self, url: str) -> bool:
        scheme, bucket, key = _split(url)
        if not bucket or ".." in key.split("/"):
            return False
        for prefix in self.prefixes:
            p_scheme, p_bucket, p_key = _split(prefix)
            if (p_scheme, p_bucket) != (scheme, bucket):
                continue
            if not p_key or key.startswith(p_key.rstrip("/") + "/") or key == p_key:
                return True
        return False

    def check_allowed(self, url: str) -> None:
        if not self.allowed(url):
            configured = ", ".join(self.prefixes) or "none"
            raise PermissionDenied(
                f"{url} is not under a configured media bucket (ASSAY_MEDIA_BUCKETS: {configured})"
            )

    def filesystem(self, url: str) -> Any:
        """The fsspec filesystem of an object-store URL (cached by fsspec per options)."""
        import fsspec

        scheme = scheme_of(url)
        protocol, package = OBJECT_SCHEMES[scheme]
        options: dict[str, Any] = {}
        if protocol == "s3" and self.s3_endpoint_url:
            options["endpoint_url"] = self.s3_endpoint_url
        try:
            return fsspec.filesystem(protocol, **options)
        except ImportError:
            raise ValidationError(
                f"{scheme}:// media need the {package} package (pip install {package})"
            ) from None

    def _path(self, url: str) -> str:
        _, bucket, key = _split(url)
        return f"{bucket}/{key}"

    def size(self, url: str) -> int:
        """The object's size in bytes; NotFound when there is none (after the prefix check)."""
        return int(self.describe(url)["size"])

    def describe(self, url: str) -> dict[str, Any]:
        """The store's facts of the object (``size``, ``ETag``…), asked afresh; NotFound when there
        is none, PermissionDenied outside the configured prefixes."""
        self.check_allowed(url)
        fs = self.filesystem(url)
        path = self._path(url)
        try:
            fs.invalidate_cache(path)
            info: dict[str, Any] = fs.info(path)
        except FileNotFoundError:
            raise NotFound(f"no object {url}") from None
        except PermissionError as e:
            raise PermissionDenied(f"the media store refuses {url} ({e})") from None
        except OSError as e:
            raise NotFound(f"cannot read {url} ({e})") from None
        if info.get("type") == "directory":
            raise NotFound(f"no object {url} (it is a folder)")
        return info

    @staticmethod
    def version(details: dict[str, Any]) -> str:
        """What changes when the object does: its ETag, or its modification time."""
        return str(details.get("ETag") or details.get("LastModified") or details.get("mtime") or "")

    def open(self, url: str, details: dict[str, Any] | None = None) -> Any:
        """A seekable binary file of the object (read in blocks; Pillow and PyAV read headers).
        Given the ``details`` :meth:`describe` already fetched, the store is not asked again."""
        self.check_allowed(url)
        fs = self.filesystem(url)
        known = {"size": int(details["size"])} if details is not None and scheme_of(url) == "s3" else {}
        try:
            fh = fs.open(self._path(url), "rb", block_size=FIRST_CHUNK, cache_type="readahead", **known)
        except FileNotFoundError:
            raise NotFound(f"no object {url}") from None
        from fsspec.spec import AbstractBufferedFile

        if details is not None and isinstance(fh, AbstractBufferedFile):
            fh.details = details  # (s3fs checks the ETag of each ranged read against these)
        return fh

    def put(self, local: Path, url: str) -> None:
        """Store a local file as the object ``url`` (under a configured prefix); an object already
        there of the same size is kept (uploads are named by their content)."""
        self.check_allowed(url)
        fs = self.filesystem(url)
        path = self._path(url)
        try:
            if fs.exists(path) and int(fs.info(path)["size"]) == local.stat().st_size:
                return
            fs.put_file(str(local), path)
        except OSError as e:
            raise ValidationError(f"the media store refused {url} ({e})", field="file") from None

    def read_range(self, url: str, start: int, end: int) -> Iterator[bytes]:
        """The bytes ``start`` to ``end`` (exclusive) of an object, as ranged reads: a small
        first chunk, then larger ones; nothing is read before the response asks."""
        fs = self.filesystem(url)
        path = self._path(url)
        at, step = start, FIRST_CHUNK
        while at < end:
            upto = min(end, at + step)
            data = fs.cat_file(path, start=at, end=upto)
            if not data:
                return
            yield data
            at += len(data)
            step = CHUNK


@dataclass
class WebGuard:
    """Checks web media URLs (http/https): the host must not be, or resolve to, a loopback,
    private, link-local or otherwise non-public address (server-side request forgery). Resolved
    names are remembered for the life of the guard (one import)."""

    trusted: frozenset[str] = frozenset()
    resolved: dict[str, list[str]] = field(default_factory=dict)

    def check(self, url: str) -> None:
        check_web_url(url, self.trusted, self.resolved)


def _non_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_web_url(
    url: str, trusted: frozenset[str] = frozenset(), cache: dict[str, list[str]] | None = None
) -> None:
    """Refuse an http(s) URL whose host is a non-public address, or a name that resolves to one
    (``localhost``, ``10.0.0.5``, ``169.254.169.254``, ``[::1]``…), unless it is the configured S3
    endpoint. A name that does not resolve here is let through: the server never fetches it."""
    parts = urlsplit(url)
    try:
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise ValidationError(f"{url} is not a valid URL") from None
    if not host:
        raise ValidationError(f"{url} has no host")
    if f"{host}:{port}" in trusted:
        return
    refused = f"{url} points at a private, loopback or link-local address"
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            raise PermissionDenied(f"{refused} ({host})") from None
        if cache is not None and host in cache:
            addresses = cache[host]
        else:
            try:
                found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                addresses = sorted({str(a[4][0]) for a in found})
            except (socket.gaierror, UnicodeError, OSError):
                addresses = []
            if cache is not None:
                cache[host] = addresses
    for address in addresses:
        if _non_public(address):
            raise PermissionDenied(f"{refused} ({address})")
