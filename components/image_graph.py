"""Graph ops on one image's encoded bytes: its pixel size and its EXIF orientation.

Pure TensorFlow, so they run inside the Transform graph, and so alike in
Transform, in the Trainer's input and in the serving model (`tft_layer`).

- `check_pixels`: the width and height from the header (JPEG's frame header
  through `tf.image.extract_jpeg_shape`, PNG's IHDR, GIF's screen descriptor,
  BMP's info header), refused above `limits.MAX_PIXELS` with an
  InvalidArgument error before anything is decoded.
- `orient`: phone cameras store the sensor's pixels and say in the EXIF
  Orientation tag (0x0112) how to turn them upright; TensorFlow's decoders
  ignore the tag. This reads it from the JPEG's APP1 `Exif` segment (the TIFF
  header's byte order, IFD0's entries) and applies one of the eight
  transposes/flips. Other formats, and JPEGs without the tag, are left as they
  are. ExampleGen keeps the stored bytes untouched; only the decoded pixels turn.
"""

from __future__ import annotations

import tensorflow as tf

from components import limits

_ORIENTATION_TAG = 0x0112
# Segments walked from the JPEG's start looking for APP1 (the Exif segment comes
# first or right after JFIF's APP0), and IFD0 entries read looking for the tag.
_MAX_SEGMENTS = 16
_MAX_IFD_ENTRIES = 64


def _u8(data: tf.Tensor, pos: tf.Tensor, n: int) -> tf.Tensor:
    """n bytes from `pos` as int64 [n]; past the end (or a bad `pos`) reads as zeros."""
    length = tf.strings.length(data)
    start = tf.cast(tf.clip_by_value(tf.cast(pos, tf.int64), 0, tf.cast(length, tf.int64)), tf.int32)
    chunk = tf.strings.substr(data, start, n)
    padded = tf.strings.substr(tf.strings.join([chunk, b"\0" * n]), 0, n)
    return tf.cast(tf.reshape(tf.io.decode_raw(padded, tf.uint8), [n]), tf.int64)


def _uint(b: tf.Tensor, little_endian) -> tf.Tensor:
    """Unsigned integer from the bytes in the last axis of `b` (int64)."""
    n = b.shape[-1]
    weights = tf.constant([256**i for i in range(n)], tf.int64)
    big = tf.reduce_sum(b * tf.reverse(weights, [0]), axis=-1)
    little = tf.reduce_sum(b * weights, axis=-1)
    return tf.where(little_endian, little, big)


def header_size(data: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(width, height) from the header, int64; (0, 0) for a format without one here."""
    head = _u8(data, 0, 26)
    is_jpeg = tf.reduce_all(tf.equal(head[:3], [0xFF, 0xD8, 0xFF]))
    is_png = tf.reduce_all(tf.equal(head[:4], [0x89, 0x50, 0x4E, 0x47]))
    is_gif = tf.reduce_all(tf.equal(head[:4], [0x47, 0x49, 0x46, 0x38]))
    is_bmp = tf.reduce_all(tf.equal(head[:2], [0x42, 0x4D]))

    def jpeg():
        shape = tf.cast(tf.image.extract_jpeg_shape(data), tf.int64)
        return tf.stack([shape[1], shape[0]])

    def others():
        png = tf.stack([_uint(head[16:20], False), _uint(head[20:24], False)])
        gif = tf.stack([_uint(head[6:8], True), _uint(head[8:10], True)])
        bmp_raw = tf.stack([_uint(head[18:22], True), _uint(head[22:26], True)])
        bmp = tf.where(bmp_raw >= 2**31, 2**32 - bmp_raw, bmp_raw)  # signed: negative height = top-down
        zero = tf.zeros([2], tf.int64)
        return tf.where(is_png, png, tf.where(is_gif, gif, tf.where(is_bmp, bmp, zero)))

    size = tf.cond(is_jpeg, jpeg, others)
    return size[0], size[1]


def check_pixels(data: tf.Tensor, max_pixels: int = limits.MAX_PIXELS) -> tf.Operation:
    """An assert that fails with InvalidArgument when the header claims more than `max_pixels`."""
    width, height = header_size(data)
    template = f"image too large: {{}}x{{}} exceeds the {max_pixels / 1e6:g}-megapixel limit"
    message = tf.strings.format(template, (width, height))
    return tf.debugging.Assert(width * height <= max_pixels, [message], name="pixel_limit")


def exif_orientation(data: tf.Tensor) -> tf.Tensor:
    """The EXIF Orientation (1..8) of a JPEG, int64; 1 when absent, unreadable or not a JPEG."""
    is_jpeg = tf.reduce_all(tf.equal(_u8(data, 0, 3), [0xFF, 0xD8, 0xFF]))
    return tf.cond(is_jpeg, lambda: _jpeg_orientation(data), lambda: tf.constant(1, tf.int64))


def _exif_tiff_start(data: tf.Tensor) -> tf.Tensor:
    """Offset of the TIFF header inside the APP1 Exif segment, or -1."""

    def body(i, pos, found):
        seg = _u8(data, pos, 10)  # FF, marker, 2-byte length, then "Exif\0\0" for APP1 Exif
        is_exif = tf.logical_and(
            tf.equal(seg[1], 0xE1), tf.reduce_all(tf.equal(seg[4:], [0x45, 0x78, 0x69, 0x66, 0, 0]))
        )
        # Not a marker, start of scan, end of image: no Exif segment before the image data.
        stop = tf.logical_or(tf.not_equal(seg[0], 0xFF), tf.reduce_any(tf.equal(seg[1], [0xDA, 0xD9, 0])))
        found = tf.where(is_exif, pos + 10, tf.where(stop, tf.constant(-2, tf.int64), found))
        return i + 1, pos + 2 + _uint(seg[2:4], False), found

    length = tf.cast(tf.strings.length(data), tf.int64)
    _, _, found = tf.while_loop(
        lambda i, pos, found: tf.logical_and(tf.logical_and(i < _MAX_SEGMENTS, found == -1), pos + 10 <= length),
        body,
        (tf.constant(0), tf.constant(2, tf.int64), tf.constant(-1, tf.int64)),
    )
    return tf.maximum(found, -1)


def _jpeg_orientation(data: tf.Tensor) -> tf.Tensor:
    tiff = _exif_tiff_start(data)
    header = _u8(data, tiff, 8)  # "II*\0" or "MM\0*", then IFD0's offset
    little = tf.reduce_all(tf.equal(header[:2], [0x49, 0x49]))
    valid = tf.logical_and(
        tiff >= 0, tf.logical_or(little, tf.reduce_all(tf.equal(header[:2], [0x4D, 0x4D])))
    )
    ifd = tiff + _uint(header[4:8], little)
    count = _uint(_u8(data, ifd, 2), little)
    entries = tf.reshape(_u8(data, ifd + 2, 12 * _MAX_IFD_ENTRIES), [_MAX_IFD_ENTRIES, 12])
    tags = _uint(entries[:, 0:2], little)
    values = _uint(entries[:, 8:10], little)  # a SHORT sits in the first two bytes of the value field
    hit = tf.logical_and(tf.equal(tags, _ORIENTATION_TAG), tf.range(_MAX_IFD_ENTRIES, dtype=tf.int64) < count)
    value = tf.reduce_max(tf.where(hit, values, 0))
    usable = tf.logical_and(valid, tf.logical_and(value >= 1, value <= 8))
    return tf.where(usable, value, 1)


def orient(image: tf.Tensor, orientation: tf.Tensor) -> tf.Tensor:
    """The decoded image [h, w, c] turned upright for its EXIF orientation (1..8)."""
    branches = [
        lambda: image,  # 1: upright
        lambda: tf.reverse(image, [1]),  # 2: mirrored left-right
        lambda: tf.reverse(image, [0, 1]),  # 3: rotated 180
        lambda: tf.reverse(image, [0]),  # 4: mirrored top-bottom
        lambda: tf.transpose(image, [1, 0, 2]),  # 5: transposed
        lambda: tf.reverse(tf.transpose(image, [1, 0, 2]), [1]),  # 6: turn 90 clockwise
        lambda: tf.reverse(tf.transpose(image, [1, 0, 2]), [0, 1]),  # 7: transversed
        lambda: tf.reverse(tf.transpose(image, [1, 0, 2]), [0]),  # 8: turn 90 counter-clockwise
    ]
    return tf.switch_case(tf.cast(orientation - 1, tf.int32), branches)
