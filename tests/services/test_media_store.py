"""Which object-store URLs and web URLs media may name: prefixes matched by whole path parts,
private, loopback and link-local addresses refused in every spelling, the S3 endpoint trusted."""

from __future__ import annotations

import importlib.util

import pytest

from assay.domain.errors import PermissionDenied, ValidationError
from assay.services.media_store import ObjectStores, check_web_url


def test_object_urls_must_lie_under_a_configured_prefix() -> None:
    stores = ObjectStores(("s3://frames", "s3://team/images/", "gs://shots/a"))
    assert stores.allowed("s3://frames/0001.jpg") and stores.allowed("s3://frames/x/y.png")
    assert stores.allowed("s3://team/images/cat.png") and stores.allowed("gs://shots/a/b.png")
    for url in (
        "s3://frames2/0001.jpg",  # another bucket that starts the same
        "s3://team/images2/cat.png",  # a prefix matches whole path parts
        "s3://team/other/cat.png",
        "s3://team/images/../secrets/key.png",
        "gs://frames/0001.jpg",  # the same name in another store
        "s3:///nobucket.png",
        "az://frames/0001.jpg",
    ):
        assert not stores.allowed(url), url
    with pytest.raises(PermissionDenied, match="ASSAY_MEDIA_BUCKETS: none"):
        ObjectStores().check_allowed("s3://frames/a.png")


@pytest.mark.skipif(importlib.util.find_spec("gcsfs") is not None, reason="gcsfs is installed here")
def test_a_store_whose_driver_is_missing_is_named() -> None:
    with pytest.raises(ValidationError, match=r"gs:// media need the gcsfs package \(pip install gcsfs\)"):
        ObjectStores(("gs://shots",)).size("gs://shots/a.png")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.png",
        "https://127.1.2.3:8443/a.png",
        "https://10.0.0.5/a.png",
        "https://172.16.9.1/a.png",
        "https://192.168.1.1/a.png",
        "http://169.254.169.254/latest/meta-data/",
        "https://[::1]/a.png",
        "https://[fe80::1]/a.png",
        "https://[fd00::1]/a.png",
        "https://[::ffff:127.0.0.1]/a.png",
        "https://0.0.0.0/a.png",
        "https://100.64.0.1/a.png",  # carrier-grade NAT
        "https://localhost/a.png",
        "https://api.localhost/a.png",
        "https://2130706433/a.png",  # 127.0.0.1 as one number: resolved, then refused
        "https://0x7f.1/a.png",
    ],
)
def test_web_urls_at_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(PermissionDenied, match="private, loopback or link-local"):
        check_web_url(url)


def test_public_and_unresolvable_web_urls_pass_and_the_s3_endpoint_is_trusted() -> None:
    check_web_url("https://93.184.216.34/a.png")
    check_web_url("https://[2606:4700::1111]/a.png")
    check_web_url("https://no-such-host.invalid/a.png")  # never fetched by the server
    trusted = ObjectStores(s3_endpoint_url="http://127.0.0.1:9000").trusted_hosts()
    check_web_url("http://127.0.0.1:9000/bucket/a.png", trusted)
    with pytest.raises(PermissionDenied):
        check_web_url("http://127.0.0.1:9001/bucket/a.png", trusted)  # only that port
    with pytest.raises(ValidationError, match="not a valid URL"):
        check_web_url("https://example.org:99999/a.png")
