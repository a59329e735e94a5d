"""The shared limits agree with the curated schema and with the run's defaults."""

import os

from google.protobuf import struct_pb2, text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from components import example_gen, limits
from pipeline import configs


def _schema() -> schema_pb2.Schema:
    with open(os.path.join(configs.SCHEMA_DIR, "schema.pbtxt")) as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


def test_schema_byte_limit_is_the_ingestion_limit():
    [image] = [f for f in _schema().feature if f.name == "image"]
    assert image.image_domain.max_image_byte_size == limits.MAX_FILE_BYTES == 20_000_000


def test_pixel_limit_is_the_default_everywhere():
    assert configs.RunConfig().max_pixels == limits.MAX_PIXELS == 50_000_000
    packed = example_gen.make_custom_config("data", ["a", "b"]).custom_config
    struct = struct_pb2.Struct()
    packed.Unpack(struct)
    assert struct["max_pixels"] == limits.MAX_PIXELS
