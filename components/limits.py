"""The limits every stage shares: what ingestion accepts, the schema checks and serving decodes.

One place, so that a photo ExampleGen ingests is never refused by the schema
check or by the serving model, and a request the model answers could have been
ingested. `tests/test_limits.py` checks that `schemas/schema.pbtxt` agrees.
"""

from __future__ import annotations

# Bytes per file: the schema's `image_domain.max_image_byte_size`. Checked from
# the file system (or the archive's member header) before a byte is read; a
# phone photo is 2-10 MB.
MAX_FILE_BYTES = 20_000_000

# Decoded pixels (width x height, every frame of a GIF counted): 50 megapixels,
# more than any camera photo a classifier is trained on, and small enough that a
# decode (about 150 MB as RGB uint8) never threatens a worker or a server.
MAX_PIXELS = 50_000_000

# Frames of a GIF: TensorFlow decodes every frame even when only the first is
# kept, so frames are counted from the GIF's block structure before a decode.
MAX_GIF_FRAMES = 100

# Bytes of one extended tar header (a pax header, a GNU long name or long link):
# a real one holds a path and a few attributes, a few KB at most. Python's
# tarfile would read any size whole; `components.tar_stream` skips a larger one
# unread and its member is quarantined.
MAX_TAR_HEADER_BYTES = 256 * 1024
