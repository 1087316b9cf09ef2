"""Media: probing on import, thumbnails, and the time to the first byte of a served file, from the
local disk and from an S3 bucket (moto's S3 server on 127.0.0.1, the same code path as MinIO/AWS).

1. N JPEG images (640x480) in a media folder, imported as records `{"url": …}` into an image
   project (SQLite): once with the media check and probing (each file's header read with Pillow,
   width/height filled in), once without (the floor: the same rows, no file opened). Images/s of
   each and the ratio; the probe alone in a loop; thumbnails made per second.
2. A `--video-mb` file served by `assay`'s media route (Uvicorn in a thread, real HTTP), from the
   local disk and from the bucket: time to the first byte of `Range: bytes=0-` (what a browser asks
   first) and of a range in the middle (a seek), the median of `--repeats`; and moto read directly
   through s3fs (no assay in between) for the floor.

One run; ratios are of the same run. Command: `.venv/bin/python bench/media.py --images 10000`.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from PIL import Image

from assay.api.app import create_app
from assay.services import accounts, imports, media, media_probe, projects
from assay.services.actors import SYSTEM
from assay.settings import Settings
from assay.store.engine import open_store

BUCKET = "bench-media"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


def _jpeg(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (i % 256, (i * 7) % 256, 90)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def probing(home: Path, n: int) -> dict[str, float]:
    folder = home / "media" / "frames"
    folder.mkdir(parents=True)
    variants = [_jpeg(i) for i in range(16)]
    for i in range(n):
        (folder / f"{i:06d}.jpg").write_bytes(variants[i % 16])
    schema = {
        "name": "frames",
        "fields": [{"name": "photo", "type": "image"}],
        "questions": [{"name": "boxes", "type": "bbox", "field": "photo", "labels": ["car"]}],
    }
    store = open_store(f"sqlite:///{home}/assay.db")
    roots = media.MediaRoots.from_settings(Settings(home=home))
    out: dict[str, float] = {}
    for label, check in (("probed", roots), ("unchecked", None)):
        p = projects.create_project(store, SYSTEM, {**schema, "name": f"frames-{label}"})
        rows = ((i + 1, {"id": f"f{i}", "photo": {"url": f"media/frames/{i:06d}.jpg"}}) for i in range(n))
        t0 = time.perf_counter()
        imports.import_rows(store, SYSTEM, p["id"], rows, media=check)
        out[label] = time.perf_counter() - t0
    paths = sorted(folder.iterdir())
    t0 = time.perf_counter()
    for path in paths:
        with path.open("rb") as fh:
            media_probe.probe("image", fh, path.name)
    out["probe_only"] = time.perf_counter() - t0
    k = min(n, 1000)
    t0 = time.perf_counter()
    for path in paths[:k]:
        with path.open("rb") as fh:
            media_probe.thumbnail("image", fh, path.name)
    out["thumbnails"] = time.perf_counter() - t0
    out["thumbnail_count"] = k
    store.dispose()
    return out


def _first_byte(client: httpx.Client, url: str, headers: dict[str, str]) -> tuple[float, float]:
    """(seconds to the first byte of the body, seconds to the whole answer)."""
    t0 = time.perf_counter()
    first = None
    with client.stream("GET", url, headers=headers) as r:
        assert r.status_code in (200, 206), r.status_code
        for chunk in r.iter_raw():
            if first is None and chunk:
                first = time.perf_counter() - t0
    assert first is not None
    return first, time.perf_counter() - t0


def serving(home: Path, video_mb: int, repeats: int) -> dict[str, float]:
    import s3fs
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    os.environ.update(CREDENTIALS)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    data = os.urandom(video_mb * 1024 * 1024)
    (home / "media").mkdir(parents=True, exist_ok=True)
    (home / "media" / "film.mp4").write_bytes(data)
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)
    fs.mkdir(BUCKET)
    fs.pipe(f"{BUCKET}/film.mp4", data)
    settings = Settings(
        home=home,
        database_url=f"sqlite:///{home}/serve.db",
        media_buckets=(f"s3://{BUCKET}",),
        s3_endpoint_url=endpoint,
    )
    store = open_store(settings.db_url)
    p = projects.create_project(
        store,
        SYSTEM,
        {
            "name": "films",
            "fields": [{"name": "film", "type": "video"}],
            "questions": [{"name": "parts", "type": "segment", "field": "film", "labels": ["walk"]}],
        },
    )
    rows = [{"id": "local", "film": "media/film.mp4"}, {"id": "s3", "film": f"s3://{BUCKET}/film.mp4"}]
    imports.import_rows(
        store, SYSTEM, p["id"], enumerate(rows, 1), media=media.MediaRoots.from_settings(settings)
    )
    token = accounts.add_user(store, SYSTEM, "bench-viewer", role="admin").token
    app = create_app(settings, store=open_store(settings.db_url, migrate=False))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # the server sets it once it listens
        time.sleep(0.01)
    api_port = server.servers[0].sockets[0].getsockname()[1]
    out: dict[str, float] = {}
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{api_port}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        ) as c:
            ids = {r["external_id"]: r["id"] for r in c.get(f"/projects/{p['id']}/records").json()["items"]}
            mid = len(data) // 2
            seek = {"Range": f"bytes={mid}-{mid + 1024 * 1024 - 1}"}
            for where in ("local", "s3"):
                url = f"/records/{ids[where]}/media/film"
                _first_byte(c, url, {"Range": "bytes=0-1023"})  # warm up (connections, caches)
                starts = [_first_byte(c, url, {"Range": "bytes=0-"}) for _ in range(repeats)]
                seeks = [_first_byte(c, url, seek) for _ in range(repeats)]
                out[f"{where}_ttfb"] = statistics.median(s[0] for s in starts)
                out[f"{where}_whole"] = statistics.median(s[1] for s in starts)
                out[f"{where}_seek_ttfb"] = statistics.median(s[0] for s in seeks)
        direct = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fs.cat_file(f"{BUCKET}/film.mp4", start=0, end=256 * 1024)
            direct.append(time.perf_counter() - t0)
        out["moto_direct_256k"] = statistics.median(direct)
    finally:
        server.should_exit = True
        thread.join(10)
        moto.stop()
        store.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--video-mb", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        p = probing(Path(tmp) / "probe", args.images)
        n = args.images
        print(f"{n:,} JPEG images 640x480 in a local media folder (SQLite)")
        print(f"import, probed       {n / p['probed']:9,.0f} images/s   {p['probed']:6.2f} s")
        print(f"import, unchecked    {n / p['unchecked']:9,.0f} images/s   {p['unchecked']:6.2f} s")
        print(f"  probed/unchecked time {p['probed'] / p['unchecked']:.2f}")
        print(f"probe alone (Pillow) {n / p['probe_only']:9,.0f} images/s   {p['probe_only']:6.2f} s")
        k = int(p["thumbnail_count"])
        print(f"thumbnails (256 px)  {k / p['thumbnails']:9,.0f} images/s   ({k:,} made)")
        s = serving(Path(tmp) / "serve", args.video_mb, args.repeats)
        print(f"\n{args.video_mb} MB video through GET /records/{{id}}/media/film, median of {args.repeats}")
        for where in ("local", "s3"):
            print(
                f"{where:5}  first byte (bytes=0-) {s[f'{where}_ttfb'] * 1000:7.1f} ms   "
                f"seek to the middle {s[f'{where}_seek_ttfb'] * 1000:7.1f} ms   "
                f"whole file {s[f'{where}_whole']:6.2f} s ({args.video_mb / s[f'{where}_whole']:.0f} MB/s)"
            )
        print(
            f"  s3/local first byte {s['s3_ttfb'] / s['local_ttfb']:.1f}x   seek {s['s3_seek_ttfb'] / s['local_seek_ttfb']:.1f}x"
        )
        print(f"moto directly (s3fs, first 256 KiB, no assay) {s['moto_direct_256k'] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
