"""Real media files the tests make: PNG images (Pillow), WAV audio (the standard library) and MP4
video (PyAV's own FFmpeg, the MPEG-4 part 2 encoder it ships)."""

from __future__ import annotations

import io
import wave
from fractions import Fraction


def png(w: int, h: int, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "PNG")
    return buf.getvalue()


def jpeg(w: int, h: int, color: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def wav(seconds: float, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x01" * int(rate * seconds))
    return buf.getvalue()


def mp4(seconds: float, w: int = 64, h: int = 48, fps: int = 25) -> bytes:
    """An MP4 of ``seconds`` at ``fps`` frames a second, each frame a flat colour."""
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i in range(int(seconds * fps)):
            pixels = np.full((h, w, 3), (i * 7 % 256, 90, 160), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def webm(seconds: float, w: int = 64, h: int = 48, fps: int = 25) -> bytes:
    """A WebM (VP8) video a browser plays: ``seconds`` at ``fps``, a flat colour per frame."""
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(int(seconds * fps)):
            pixels = np.full((h, w, 3), (i * 7 % 256, 90, 160), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()
