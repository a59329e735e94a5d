"""JPEGs of one asymmetric picture stored under each of the eight EXIF orientations."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

# What a viewer applies for each orientation (PIL's ImageOps.exif_transpose), and its inverse,
# which turns the upright picture into the pixels a camera would store.
TO_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_INVERSE = {
    Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270,
}


def upright(width: int = 96, height: int = 64) -> Image.Image:
    """Smooth (so JPEG keeps it well) and asymmetric under every flip and turn."""
    y, x = np.mgrid[0:height, 0:width]
    red = 255 * x / (width - 1)
    green = 255 * y / (height - 1)
    blue = np.where((x < width // 3) & (y < height // 2), 255, 30)
    return Image.fromarray(np.stack([red, green, blue], -1).astype(np.uint8), "RGB")


def exif_segment(orientation: int, big_endian: bool = False) -> bytes:
    """An APP1 Exif payload holding IFD0 with two entries, Orientation second."""
    order = ">" if big_endian else "<"
    entries = [(0x010F, 2, 4, b"Cam\0"), (0x0112, 3, 1, struct.pack(order + "HH", orientation, 0))]
    ifd = struct.pack(order + "H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack(order + "HHI", tag, kind, count) + value
    tiff = (b"MM\0*" if big_endian else b"II*\0") + struct.pack(order + "I", 8) + ifd + b"\0\0\0\0"
    return b"Exif\0\0" + tiff


def stored_jpeg(orientation: int, big_endian: bool = False) -> bytes:
    """The upright picture as a camera stores it for `orientation`, with the tag saying so."""
    image = upright()
    if orientation != 1:
        to_upright = TO_UPRIGHT[orientation]
        image = image.transpose(_INVERSE.get(to_upright, to_upright))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, exif=exif_segment(orientation, big_endian))
    return buffer.getvalue()
