"""What a media file is: an image's width and height (Pillow reads the header), an audio or video
file's duration, a video's size and frame rate (PyAV reads the container; FFmpeg's demuxers ship
inside its wheel, nothing to install on the machine). And thumbnails for the records browser.

A probe reads headers, not the whole file: a local file or an object-store file (fsspec, read in
blocks) alike.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO, Any

from assay.domain.errors import ValidationError

__all__ = ["DURATION_TOLERANCE", "Probe", "probe", "thumbnail"]

# A declared duration may differ from the file's by this much (seconds): containers round.
DURATION_TOLERANCE = 0.05
THUMB_SIZE = 256


@dataclass(frozen=True)
class Probe:
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    fps: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def probe(kind: str, file: IO[bytes], name: str) -> Probe:
    """The facts of a media file: ``kind`` is image, audio or video; ``name`` names it in errors."""
    if kind == "image":
        return _probe_image(file, name)
    return _probe_av(kind, file, name)


def _probe_image(file: IO[bytes], name: str) -> Probe:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as im:
            return Probe(width=int(im.width), height=int(im.height))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValidationError(f"{name} is not an image Pillow can read ({e})") from None


def _probe_av(kind: str, file: IO[bytes], name: str) -> Probe:
    import av

    try:
        with av.open(file, mode="r") as container:
            duration: float | None = None
            if container.duration is not None:
                duration = float(container.duration) / 1_000_000  # av.time_base
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            stream = video if kind == "video" else audio
            if stream is None:
                raise ValidationError(f"{name} has no {kind} stream")
            if duration is None and stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            if video is None or kind == "audio":
                return Probe(duration=_round(duration))
            rate = video.average_rate or video.guessed_rate
            return Probe(
                width=int(video.codec_context.width) or None,
                height=int(video.codec_context.height) or None,
                duration=_round(duration),
                fps=round(float(rate), 3) if rate else None,
            )
    except (av.FFmpegError, OSError, ValueError, EOFError) as e:
        article = "an" if kind == "audio" else "a"
        raise ValidationError(f"{name} is not {article} {kind} file FFmpeg can read ({e})") from None


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def thumbnail(kind: str, file: IO[bytes], name: str, size: int = THUMB_SIZE) -> bytes:
    """A JPEG at most ``size`` pixels on its longer side: the image, or a video's first frame."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        if kind == "video":
            im = _first_frame(file, name)
        else:
            im = Image.open(file)
            im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale
        with im:
            im.thumbnail((size, size))
            upright = ImageOps.exif_transpose(im)  # as browsers show it (EXIF orientation)
            out = io.BytesIO()
            upright.convert("RGB").save(out, "JPEG", quality=80)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValidationError(f"{name} is not an image Pillow can read ({e})") from None


def _first_frame(file: IO[bytes], name: str) -> Any:
    import av

    try:
        with av.open(file, mode="r") as container:
            if not container.streams.video:
                raise ValidationError(f"{name} has no video stream")
            for frame in container.decode(video=0):
                return frame.to_image()  # type: ignore[no-untyped-call]
    except (av.FFmpegError, OSError, ValueError, EOFError) as e:
        raise ValidationError(f"{name} is not a video FFmpeg can read ({e})") from None
    raise ValidationError(f"{name} has no video frame")
