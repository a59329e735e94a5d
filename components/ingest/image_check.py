"""Decide, from a file's bytes, whether it is an image the pipeline can use.

Content decides, never the file name: a PNG named `photo.jpg` is a PNG and is
accepted; a text file named `photo.jpg` is quarantined as a text file. The image
header is read before anything is decoded, so a file that claims 30000x30000
pixels is refused at the cost of reading a few bytes (a decompression bomb costs
nothing). A GIF's frames are counted from its block structure, since
TensorFlow decodes every frame even when only the first is kept. Only then is
the image really decoded, once, the way Transform will decode it, so that
nothing reaching Transform can fail there. The limits are `components.features`.
"""

from __future__ import annotations

import dataclasses
import re
import struct

from components import features

# Names of files that ship with image datasets but are not meant to be images.
# They are skipped (counted, listed) rather than quarantined.
_METADATA_NAMES = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db"})
_METADATA_STEMS = ("license", "licence", "readme", "credits", "attribution", "copying")


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    """What the header says: the format and the pixel size."""

    format: str
    width: int
    height: int


class NotAnImageError(ValueError):
    """The bytes are not an image the pipeline can ingest; the message says why."""


def is_dataset_metadata(basename: str) -> bool:
    """True for files that accompany datasets and are not images.

    Hidden files (`.DS_Store`, `._photo.jpg` written by macOS), `Thumbs.db` and
    licence or read-me files such as the `LICENSE.txt` of the upstream
    flower_photos archive.
    """
    lower = basename.lower()
    if lower.startswith("."):
        return True
    if lower in _METADATA_NAMES:
        return True
    stem = lower.split(".", 1)[0]
    return stem in _METADATA_STEMS


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Width and height from the first start-of-frame marker of a JPEG."""
    pos = 2
    n = len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            raise NotAnImageError("corrupt JPEG: bad marker in header")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > n:
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        if marker in (0xD9, 0xDA):  # end of image or start of scan before a frame
            raise NotAnImageError("corrupt JPEG: no frame header before the image data")
        pos += 2 + length
    raise NotAnImageError("truncated JPEG: the file ends inside its header")


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return width, height
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    raise NotAnImageError("truncated WebP: the file ends inside its header")


def read_header(data: bytes) -> ImageInfo:
    """Identify the format by magic bytes and read the pixel size from the header.

    Raises NotAnImageError with a reason a person understands.
    """
    if not data:
        raise NotAnImageError("empty file (0 bytes)")
    if data[:3] == b"\xff\xd8\xff":
        width, height = _jpeg_size(data)
        return ImageInfo("jpeg", width, height)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise NotAnImageError("truncated PNG: the file ends inside its header")
        width, height = struct.unpack(">II", data[16:24])
        return ImageInfo("png", width, height)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        if len(data) < 10:
            raise NotAnImageError("truncated GIF: the file ends inside its header")
        width, height = struct.unpack("<HH", data[6:10])
        return ImageInfo("gif", width, height)
    if data[:2] == b"BM":
        if len(data) < 26:
            raise NotAnImageError("truncated BMP: the file ends inside its header")
        width, height = struct.unpack("<ii", data[18:26])
        return ImageInfo("bmp", abs(width), abs(height))
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        width, height = _webp_size(data)
        return ImageInfo("webp", width, height)
    if _looks_like_text(data):
        raise NotAnImageError("not an image (text file)")
    raise NotAnImageError("not an image (unrecognised content)")


def _looks_like_text(data: bytes) -> bool:
    head = data[:4096]
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        # A multi-byte character cut at the 4096-byte boundary is still text.
        if err.start < len(head) - 4:
            return False
    return True


def check_image(data: bytes, max_pixels: int = features.MAX_PIXELS) -> ImageInfo:
    """Return the header info of a usable image, or raise NotAnImageError.

    Usable means: a format TensorFlow decodes, at most `max_pixels` decoded
    pixels (every frame of a GIF counted), at most `features.MAX_GIF_FRAMES`
    frames, and a full decode to 3-channel uint8 (as Transform does it) succeeds.
    """
    info = read_header(data)
    if info.format == "webp":
        # TensorFlow 2.16's decode_image (the legacy stack) has no WebP decoder; 2.21's has.
        # Both stacks refuse it, so one folder gives the same examples on either.
        raise NotAnImageError("WebP image: TensorFlow 2.16 (the legacy stack) cannot decode WebP")
    if info.width <= 0 or info.height <= 0:
        raise NotAnImageError(
            f"corrupt {info.format.upper()}: header says {info.width}x{info.height} pixels"
        )
    frames = 1
    if info.format == "gif":
        frames = gif_frames(data, features.MAX_GIF_FRAMES)
        if frames > features.MAX_GIF_FRAMES:
            raise NotAnImageError(f"GIF with more than {features.MAX_GIF_FRAMES} frames (the frame limit)")
    if info.width * info.height * frames > max_pixels:
        times = f" x {frames} frames" if frames > 1 else ""
        raise NotAnImageError(
            f"image too large: {info.width}x{info.height}{times} exceeds the "
            f"{max_pixels / 1e6:g}-megapixel limit"
        )
    _decode_check(data, info)
    return info


def gif_frames(data: bytes, limit: int) -> int:
    """The frames of a GIF, counted from its blocks without decoding (up to `limit` + 1).

    Walks the block structure: the global colour table, then extension blocks
    (0x21) and image descriptors (0x2C, one per frame), each followed by its
    data sub-blocks, up to the trailer (0x3B). A malformed structure stops the
    count; the decode check then names the problem.
    """
    pos = 13 + _colour_table_size(data[10]) if len(data) > 10 else len(data)
    frames = 0
    while pos < len(data) and frames <= limit:
        block = data[pos]
        if block == 0x2C and pos + 10 <= len(data):
            frames += 1
            pos += 10 + _colour_table_size(data[pos + 9]) + 1  # descriptor, table, LZW code size
        elif block == 0x21:
            pos += 2  # introducer and label
        else:
            break  # the trailer, or a malformed block
        while pos < len(data) and data[pos] != 0:  # data sub-blocks, each led by its size
            pos += 1 + data[pos]
        pos += 1  # the terminating empty sub-block
    return frames


def _colour_table_size(flags: int) -> int:
    return 3 << ((flags & 0x07) + 1) if flags & 0x80 else 0


def _decode_check(data: bytes, info: ImageInfo) -> None:
    import tensorflow as tf

    try:
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as err:
        message = clean_tf_message(err.message or type(err).__name__)
        if info.format == "jpeg" and b"\xff\xd9" not in data[-64:]:
            raise NotAnImageError(
                "truncated JPEG: the file ends before its end-of-image marker"
            ) from None
        kind = "truncated" if _is_truncation(message) else "corrupt"
        raise NotAnImageError(f"{kind} {info.format.upper()}: {message}") from None
    if image.shape[0] != info.height or image.shape[1] != info.width:
        raise NotAnImageError(
            f"corrupt {info.format.upper()}: header says {info.width}x{info.height}, "
            f"decoded {image.shape[1]}x{image.shape[0]}"
        )


_TF_NOISE = ("Graph execution error", "Detected at node", "<stack traces", "[[", "File ")


def clean_tf_message(message: str) -> str:
    """The cause in a TensorFlow error text, without node names and stack noise."""
    lines = [line.strip() for line in message.splitlines()]
    kept = [line for line in lines if line and not line.startswith(_TF_NOISE)]
    text = " ".join(kept) or message.strip()
    text = re.sub(r"\{\{[^}]*\}\}", "", text)
    text = re.sub(r"\s*\[Op:[^\]]*\]", "", text)
    return " ".join(text.split())


def _is_truncation(message: str) -> bool:
    lower = message.lower()
    return any(word in lower for word in ("premature", "truncat", "data size", "incomplete"))
