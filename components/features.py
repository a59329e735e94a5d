"""What every stage agrees on: the feature keys, the image size and the limits.

One place, so that the keys ExampleGen writes are the keys Transform, the
Trainer and the serving signatures read; and so that a photo ExampleGen ingests
is never refused by the schema check or by the serving model, and a request the
model answers could have been ingested (`tests/components/test_limits.py` checks
that `schemas/schema.pbtxt` agrees).
"""

from __future__ import annotations

# The tf.Example features ExampleGen writes: the photo's untouched bytes, its
# label index and its path below the source (the split is a hash of it).
IMAGE_KEY = "image"
LABEL_KEY = "label"
FILENAME_KEY = "filename"
# What Transform gives the model: 180x180 RGB floats in [0, 1].
TRANSFORMED_IMAGE_KEY = "image_xf"
IMAGE_SIZE = 180

# ExampleGen's report, in every examples artifact: the counts per split and class,
# the vocabulary, and every file not ingested with its reason. The Trainer reads
# its counts and vocabulary.
INGEST_REPORT_FILE = "ingest_report.json"

# The TFDS tf_flowers order (tfds.builder('tf_flowers').info.features['label'].names), as
# schemas/class_names.txt pins it (components.vocabulary; tests/components/test_vocabulary.py).
TF_FLOWERS_CLASSES = ("dandelion", "daisy", "tulips", "sunflowers", "roses")

# The share of a source's files that may be quarantined before ExampleGen fails
# (`--max-quarantined`): a few bad files are listed and the run goes on.
DEFAULT_MAX_QUARANTINE_FRACTION = 0.01

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
# tarfile would read any size whole; `components.ingest.sources.tar_stream`
# skips a larger one unread and its member is quarantined.
MAX_TAR_HEADER_BYTES = 256 * 1024


# Zip archives (`components.ingest.sources.zip_reader`). Sizes come from the
# central directory before a byte is inflated, so a zip bomb is refused unread:
# a member whose declared size is more than MAX_ZIP_RATIO times its compressed
# size is quarantined (a JPEG or PNG compresses about 1:1, a BMP of a photo a
# few to one; 100:1 is a run of one byte); inflation is never asked for more
# than the declared size, and a member that inflates past it is quarantined.
MAX_ZIP_RATIO = 100
# The central directory is read whole, and every entry is kept as long as the
# listing is: at most this many entries (55 times the 3,670 flower_photos) and
# this many bytes of directory (160 bytes an entry), else the zip is refused in
# one sentence. Larger photo sets: a .tgz, a folder, or spans.
MAX_ZIP_ENTRIES = 200_000
MAX_ZIP_DIRECTORY_BYTES = 32 * 1024 * 1024
