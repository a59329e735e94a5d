"""The shared limits agree with the curated schema and with the run's defaults."""

import os

import pytest
import tensorflow as tf
from google.protobuf import struct_pb2, text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from components import features
from components.ingest import executor, image_check
from components.transform import image_ops
from pipeline import configs
from tests.helpers import imagefiles


def _schema() -> schema_pb2.Schema:
    with open(os.path.join(configs.SCHEMA_DIR, "schema.pbtxt")) as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


def test_schema_byte_limit_is_the_ingestion_limit():
    [image] = [f for f in _schema().feature if f.name == "image"]
    assert image.image_domain.max_image_byte_size == features.MAX_FILE_BYTES == 20_000_000


@pytest.mark.parametrize("width, refused", [(7071, False), (7072, True)])  # x 7071: 49,999,041 / 50,006,112 px
def test_ingestion_and_serving_draw_the_pixel_limit_at_the_same_place(width, refused):
    """ExampleGen's limit as the pipeline configures it (features.MAX_PIXELS, no setting changes it) and the
    serving graph's refuse the same headers."""
    packed = executor.make_custom_config("data", ["a", "b"]).custom_config
    struct = struct_pb2.Struct()
    packed.Unpack(struct)
    max_pixels = int(struct["max_pixels"])
    assert max_pixels == 50_000_000
    data = imagefiles.png_bomb_header(width, 7071)  # a header, then 16 bytes that decode to nothing
    too_large = f"image too large: {width}x7071 exceeds the 50-megapixel limit"
    with pytest.raises(image_check.NotAnImageError) as ingested:
        image_check.check_image(data, max_pixels)
    # Under the limit the header passes, and the decode refuses the missing pixel data instead.
    assert (str(ingested.value) == too_large) is refused, str(ingested.value)
    if refused:
        with pytest.raises(tf.errors.InvalidArgumentError, match=too_large):
            image_ops.check_limits(tf.constant(data))
    else:
        image_ops.check_limits(tf.constant(data))  # no error: the graph goes on to decode
