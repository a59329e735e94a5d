"""Small real image files made in the tests: good ones in every format, and bad ones."""

from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
from PIL import Image


def copy_sample_classes(dest, class_names=("daisy", "roses"), per_class: int = 12):
    """A small data folder: the first `per_class` photos (sorted) of these class folders of the
    bundled sample, copied to `dest`."""
    import shutil

    from pipeline import configs

    for class_name in class_names:
        (dest / class_name).mkdir(parents=True)
        for name in sorted(os.listdir(f"{configs.SAMPLE_DATA}/{class_name}"))[:per_class]:
            shutil.copy(f"{configs.SAMPLE_DATA}/{class_name}/{name}", dest / class_name / name)
    return dest


def photo(width: int = 64, height: int = 48, seed: int = 0, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    image = Image.fromarray(base, "RGB")
    return image.convert(mode) if mode != "RGB" else image


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def jpeg(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    return encode(photo(width, height, seed), "JPEG", quality=90)


def animated_gif() -> bytes:
    frames = [photo(32, 32, seed=i).convert("P") for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def png16(width: int = 20, height: int = 10) -> bytes:
    array = np.arange(width * height, dtype=np.uint16).reshape(height, width) * 300
    return encode(Image.fromarray(array), "PNG")


def png_bomb_header(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG whose header claims a huge size; only a few bytes of data follow."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + b"\x00" * 16
    )


def good_files() -> dict[str, bytes]:
    """File name -> bytes of images that must all be accepted."""
    return {
        "plain.jpg": jpeg(),
        "upper.JPG": jpeg(seed=1),
        "other.jpeg": jpeg(seed=2),
        "png_named.jpg": encode(photo(seed=3), "PNG"),
        "gif_named.jpg": encode(photo(seed=4).convert("P"), "GIF"),
        "bmp_named.jpg": encode(photo(seed=5), "BMP"),
        "animated.gif": animated_gif(),
        "grayscale.jpg": encode(photo(seed=6, mode="L"), "JPEG"),
        "cmyk.jpg": encode(photo(seed=7, mode="CMYK"), "JPEG"),
        "rgba.png": encode(photo(seed=8, mode="RGBA"), "PNG"),
        "sixteen_bit.png": png16(),
    }


def bad_files() -> dict[str, tuple[bytes, str]]:
    """File name -> (bytes, expected start of the quarantine reason)."""
    full = jpeg(120, 90, seed=9)
    return {
        "empty.jpg": (b"", "empty file (0 bytes)"),
        "truncated.jpg": (full[: len(full) // 2], "truncated JPEG"),
        "header_only.jpg": (full[:200], "truncated JPEG"),
        "random.jpg": (
            np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes(),
            "not an image (unrecognised content)",
        ),
        "notes.jpg": (b"these are my notes about the flowers\n" * 10, "not an image (text file)"),
        "bomb.png": (png_bomb_header(), "image too large: 30000x30000 exceeds the 50-megapixel limit"),
    }


def gif_with_frames(frames: int, size: int = 4) -> bytes:
    """An animated GIF of `frames` distinct tiny frames (distinct, so none is merged away)."""
    images = [Image.new("RGB", (size, size), ((i * 37) % 256, (i * 11) % 256, i % 256)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=10, loop=0)
    return buffer.getvalue()
