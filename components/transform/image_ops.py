"""Graph ops on encoded image bytes: the pixel size from the header, the EXIF orientation.

Pure TensorFlow, so they run inside the Transform graph, and so alike in
Transform, in the Trainer's input and in the serving model (`tft_layer`).

- `check_limits`: one image checked against the limits ingestion applies
  (`components.features`), with an InvalidArgument error before anything is
  decoded: its bytes; its width and height from the header (JPEG's frame header
  through `tf.image.extract_jpeg_shape`, PNG's IHDR, GIF's screen descriptor,
  BMP's info header) times its frames; a GIF's frames, counted from its block
  structure, since TensorFlow decodes every frame even when only the first is kept.
- `exif_orientation` and `orient`: phone cameras store the sensor's pixels and
  say in the EXIF Orientation tag (0x0112) how to turn them upright; TensorFlow's
  decoders ignore the tag. `exif_orientation` reads it for a whole batch at once
  from each JPEG's APP1 `Exif` segment (the TIFF header's byte order, IFD0's
  entries); `orient` applies the eight transposes/flips to a batch of square
  images. Turning after the resize to a square is exact (a flip or a transpose
  commutes with a resize to a square) and costs nothing when no image is
  turned. Other formats, and JPEGs without the tag, stay as stored.
"""

from __future__ import annotations

import tensorflow as tf

from components import features

_ORIENTATION_TAG = 0x0112
# Segments walked from a JPEG's start looking for APP1 (the Exif segment comes
# first, or right after JFIF's APP0), and IFD0 entries read looking for the tag.
_MAX_SEGMENTS = 16
_MAX_IFD_ENTRIES = 64


def _u8(data: tf.Tensor, pos, n: int) -> tf.Tensor:
    """n bytes of each string from `pos`, int64 [..., n]; past the end reads as zeros."""
    length = tf.cast(tf.strings.length(data), tf.int64)
    start = tf.cast(tf.clip_by_value(tf.cast(pos, tf.int64) + tf.zeros_like(length), 0, length), tf.int32)
    chunk = tf.strings.substr(data, start, tf.fill(tf.shape(start), n))
    padded = tf.strings.substr(tf.strings.join([chunk, b"\0" * n]), 0, n)
    raw = tf.io.decode_raw(padded, tf.uint8)
    raw.set_shape(data.shape.concatenate([n]))
    return tf.cast(raw, tf.int64)


def _uint(b: tf.Tensor, little_endian) -> tf.Tensor:
    """The unsigned integers in the last axis of `b` (bytes as int64)."""
    weights = tf.constant([256**i for i in range(b.shape[-1])], tf.int64)
    big = tf.reduce_sum(b * tf.reverse(weights, [0]), axis=-1)
    little = tf.reduce_sum(b * weights, axis=-1)
    return tf.where(little_endian, little, big)


def _starts_with(head: tf.Tensor, magic: list[int]) -> tf.Tensor:
    return tf.reduce_all(tf.equal(head[..., : len(magic)], magic), axis=-1)


def header_size(data: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(width, height) of one image from its header, int64; (0, 0) for other formats."""
    head = _u8(data, 0, 26)

    def jpeg():
        shape = tf.cast(tf.image.extract_jpeg_shape(data), tf.int64)
        return tf.stack([shape[1], shape[0]])

    def others():
        png = tf.stack([_uint(head[16:20], False), _uint(head[20:24], False)])
        gif = tf.stack([_uint(head[6:8], True), _uint(head[8:10], True)])
        bmp = tf.stack([_uint(head[18:22], True), _uint(head[22:26], True)])
        bmp = tf.where(bmp >= 2**31, 2**32 - bmp, bmp)  # signed: a negative height means top-down rows
        none = tf.zeros([2], tf.int64)
        is_png = _starts_with(head, [0x89, 0x50, 0x4E, 0x47])
        is_gif = _starts_with(head, [0x47, 0x49, 0x46])
        is_bmp = _starts_with(head, [0x42, 0x4D])
        return tf.where(is_png, png, tf.where(is_gif, gif, tf.where(is_bmp, bmp, none)))

    size = tf.cond(_starts_with(head, [0xFF, 0xD8, 0xFF]), jpeg, others)
    return size[0], size[1]


def _colour_table(flags: tf.Tensor) -> tf.Tensor:
    return tf.where(flags >= 0x80, 3 * tf.bitwise.left_shift(tf.constant(2, tf.int64), flags % 8), 0)


def gif_frames(data: tf.Tensor) -> tf.Tensor:
    """The frames of one GIF, counted from its blocks as `image_check.gif_frames` does
    (up to `features.MAX_GIF_FRAMES` + 1), int64; TensorFlow decodes every frame."""
    length = tf.cast(tf.strings.length(data), tf.int64)

    def body(pos, frames, in_data, done):
        b = _u8(data, pos, 10)
        # Inside a block's data: a sub-block led by its size; an empty one ends the block.
        sub = (pos + 1 + b[0], frames, b[0] != 0, done)
        image = (pos + 10 + _colour_table(b[9]) + 1, frames + 1, tf.constant(True), done)
        extension = (pos + 2, frames, tf.constant(True), done)
        other = (pos, frames, tf.constant(False), tf.constant(True))  # the trailer, or malformed
        return tuple(
            tf.where(in_data, s, tf.where(b[0] == 0x2C, i, tf.where(b[0] == 0x21, e, o)))
            for s, i, e, o in zip(sub, image, extension, other, strict=True)
        )

    def more(pos, frames, in_data, done):
        return tf.logical_not(done) & (pos < length) & (frames <= features.MAX_GIF_FRAMES)

    start = 13 + _colour_table(_u8(data, 10, 1)[0])
    no = tf.constant(False)
    _, frames, _, _ = tf.while_loop(more, body, (start, tf.constant(0, tf.int64), no, no))
    return frames


def check_limits(data: tf.Tensor) -> tf.Operation:
    """Asserts that fail with InvalidArgument, before any decode, on one image over the limits
    ingestion applies (`features`): its bytes first, then its GIF frames and its pixels (every
    GIF frame counted), both read from the header."""
    size = tf.cast(tf.strings.length(data), tf.int64)
    big = f"file too large: {{}} bytes, above the {features.MAX_FILE_BYTES}-byte limit"
    small_enough = tf.debugging.Assert(size <= features.MAX_FILE_BYTES, [tf.strings.format(big, size)])
    with tf.control_dependencies([small_enough]):
        width, height = header_size(data)
        is_gif = _starts_with(_u8(data, 0, 3), [0x47, 0x49, 0x46])
        frames = tf.cond(is_gif, lambda: gif_frames(data), lambda: tf.constant(1, tf.int64))
    many = f"GIF with more than {features.MAX_GIF_FRAMES} frames (the frame limit)"
    wide = tf.strings.join([
        tf.strings.format("image too large: {}x{}", (width, height)),
        tf.where(frames > 1, tf.strings.format(" x {} frames", frames), ""),
        f" exceeds the {features.MAX_PIXELS / 1e6:g}-megapixel limit",
    ])
    return tf.group(
        small_enough,
        tf.debugging.Assert(frames <= features.MAX_GIF_FRAMES, [many]),
        tf.debugging.Assert(width * height * frames <= features.MAX_PIXELS, [wide]),
    )


def _exif_tiff_start(data: tf.Tensor) -> tf.Tensor:
    """Per image [batch]: the offset of the TIFF header in its APP1 Exif segment, or -1."""
    length = tf.cast(tf.strings.length(data), tf.int64)

    def body(i, pos, found):
        seg = _u8(data, pos, 10)  # FF, marker, 2-byte length, then "Exif\0\0" for APP1 Exif
        is_exif = tf.logical_and(tf.equal(seg[:, 1], 0xE1), _starts_with(seg[:, 4:], [0x45, 0x78, 0x69, 0x66, 0, 0]))
        # Not a marker, start of scan, end of image: no Exif segment before the image data.
        stop = tf.logical_or(tf.not_equal(seg[:, 0], 0xFF), tf.reduce_any(tf.equal(seg[:, 1:2], [0xDA, 0xD9, 0]), -1))
        searching = tf.equal(found, -1)
        found = tf.where(searching & is_exif, pos + 10, tf.where(searching & stop, tf.constant(-2, tf.int64), found))
        return i + 1, tf.where(searching, pos + 2 + _uint(seg[:, 2:4], False), pos), found

    def searching(i, pos, found):
        return tf.logical_and(i < _MAX_SEGMENTS, tf.reduce_any(tf.equal(found, -1) & (pos + 10 <= length)))

    start = tf.fill(tf.shape(length), tf.constant(2, tf.int64))
    _, _, found = tf.while_loop(searching, body, (tf.constant(0), start, -tf.ones_like(length)))
    is_jpeg = _starts_with(_u8(data, 0, 3), [0xFF, 0xD8, 0xFF])
    return tf.where(is_jpeg & (found >= 0), found, -1)


def exif_orientation(data: tf.Tensor) -> tf.Tensor:
    """The EXIF Orientation (1..8) of each JPEG of a batch [batch], int64; 1 where absent or unreadable."""
    tiff = _exif_tiff_start(data)
    header = _u8(data, tiff, 8)  # "II*\0" or "MM\0*", then IFD0's offset
    little = _starts_with(header, [0x49, 0x49])
    valid = (tiff >= 0) & (little | _starts_with(header, [0x4D, 0x4D]))
    ifd = tiff + _uint(header[:, 4:8], little)
    count = _uint(_u8(data, ifd, 2), little)
    entries = tf.reshape(_u8(data, ifd + 2, 12 * _MAX_IFD_ENTRIES), [-1, _MAX_IFD_ENTRIES, 12])
    tags = _uint(entries[..., 0:2], little[:, None])
    values = _uint(entries[..., 8:10], little[:, None])  # a SHORT sits in the value field's first two bytes
    hit = tf.equal(tags, _ORIENTATION_TAG) & (tf.range(_MAX_IFD_ENTRIES, dtype=tf.int64) < count[:, None])
    value = tf.reduce_max(tf.where(hit, values, 0), axis=-1)
    return tf.where(valid & (value >= 1) & (value <= 8), value, 1)


def orient(images: tf.Tensor, orientation: tf.Tensor) -> tf.Tensor:
    """Square images [batch, s, s, c] turned upright for their EXIF orientations [batch].

    1 upright, 2 mirrored left-right, 3 turned 180, 4 mirrored top-bottom,
    5 transposed, 6 turned 90 clockwise, 7 transversed, 8 turned 90 counter-clockwise:
    5..8 transpose, then 2, 3, 6, 7 mirror the columns and 3, 4, 7, 8 the rows.
    """
    if images.shape[1] != images.shape[2]:
        raise ValueError(f"orient turns square images only, not {images.shape}")

    def turn():
        def pick(condition, changed, image):
            return tf.where(tf.reshape(condition, [-1, 1, 1, 1]), changed, image)

        o = tf.reshape(orientation, [-1, 1])
        x = pick(orientation >= 5, tf.transpose(images, [0, 2, 1, 3]), images)
        x = pick(tf.reduce_any(tf.equal(o, [3, 4, 7, 8]), -1), tf.reverse(x, [1]), x)
        return pick(tf.reduce_any(tf.equal(o, [2, 3, 6, 7]), -1), tf.reverse(x, [2]), x)

    return tf.cond(tf.reduce_any(orientation != 1), turn, lambda: images)
