"""What the Transform graph does with what clients send: EXIF orientation and the pixel limit,
checked through a SavedModel saved as the Trainer saves it (`serving.make_signatures`)."""

import re
import struct

import numpy as np
import pytest
import tensorflow as tf

from components import features
from components.ingest import image_check
from components.trainer import serving
from components.transform import image_ops, preprocessing
from tests.helpers import imagefiles
from tests.helpers import orientation_images as oriented

N_OUT = 6 * 6 * 3  # the stand-in model's outputs: the transformed image pooled to 6x6


def _forged(fmt: str) -> bytes:
    """Tiny files whose headers claim far more pixels than the limit."""
    if fmt == "png":
        return imagefiles.png_bomb_header(30000, 30000)
    if fmt == "jpeg":
        data = bytearray(imagefiles.jpeg(64, 48))
        sof = data.index(b"\xff\xc0")
        data[sof + 5 : sof + 9] = struct.pack(">HH", 30000, 30000)
        return bytes(data)
    if fmt == "gif":
        data = bytearray(imagefiles.encode(imagefiles.photo(8, 8).convert("P"), "GIF"))
        data[6:10] = struct.pack("<HH", 30000, 30000)
        return bytes(data)
    data = bytearray(imagefiles.encode(imagefiles.photo(8, 8), "BMP"))
    data[18:26] = struct.pack("<ii", 30000, -30000)  # a negative height: rows stored top-down
    return bytes(data)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "gif", "bmp"])
def test_pixel_limit_is_checked_from_the_header(fmt):
    with pytest.raises(tf.errors.InvalidArgumentError, match="image too large: 30000x30000 exceeds the 50-megapixel"):
        preprocessing.preprocess_encoded(tf.constant([_forged(fmt)]))
    assert features.MAX_PIXELS < 30000 * 30000


@pytest.mark.parametrize("frames", [1, 3, 7, 101, 150])
def test_gif_frames_are_counted_in_the_graph_as_at_ingestion(frames):
    data = imagefiles.gif_with_frames(frames)
    counted = int(image_ops.gif_frames(tf.constant(data)))
    assert counted == image_check.gif_frames(data, features.MAX_GIF_FRAMES) == min(frames, features.MAX_GIF_FRAMES + 1)


def _many_frames_claiming(width: int, height: int) -> bytes:
    data = bytearray(imagefiles.gif_with_frames(3))
    data[6:10] = struct.pack("<HH", width, height)  # the logical screen every frame is decoded to
    return bytes(data)


@pytest.mark.parametrize(
    "data, message",
    [
        (imagefiles.gif_with_frames(101), "GIF with more than 100 frames (the frame limit)"),
        (_many_frames_claiming(4096, 4096), "image too large: 4096x4096 x 3 frames exceeds the 50-megapixel limit"),
        (b"\xff\xd8\xff" + bytes(features.MAX_FILE_BYTES), "file too large: 20000003 bytes, above the 20000000-byte"),
    ],
    ids=["frames", "pixels_times_frames", "bytes"],
)
def test_the_ingestion_limits_hold_in_the_graph(data, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(message)):
        preprocessing.preprocess_encoded(tf.constant([data]))
    assert preprocessing.preprocess_encoded(tf.constant([_many_frames_claiming(4096, 1000)])).shape == (1, 180, 180, 3)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """The real Transform graph (tft_beam) and a stand-in model, saved with the serving signatures."""
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    import tf_keras as keras
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    root = tmp_path_factory.mktemp("serving_input")
    spec = {"image": tf.io.FixedLenFeature([1], tf.string), "label": tf.io.FixedLenFeature([1], tf.int64)}
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    with tft_beam.Context(temp_dir=str(root / "tmp")):
        transform_fn = ([{"image": [imagefiles.jpeg()], "label": [0]}], metadata) | tft_beam.AnalyzeDataset(
            preprocessing.preprocessing_fn
        )
        _ = transform_fn | tft_beam.WriteTransformFn(str(root / "transform"))
    # Logits are the pooled pixels, scaled: the softmax keeps their differences, so what
    # the model saw can be read back from the probabilities.
    model = keras.Sequential(
        [keras.layers.Input([180, 180, 3]), keras.layers.AveragePooling2D(30), keras.layers.Flatten(),
         keras.layers.Rescaling(10.0)]
    )
    signatures = serving.make_signatures(
        model, tft.TFTransformOutput(str(root / "transform")), tuple(f"c{i}" for i in range(N_OUT))
    )
    model.save(str(root / "model"), save_format="tf", signatures=signatures)
    return tf.saved_model.load(str(root / "model")).signatures["serving_images"]


def _seen(serve, blobs) -> np.ndarray:
    """The pooled image the model saw, per request (up to a constant, removed)."""
    logp = np.log(serve(image_bytes=tf.constant(blobs))["probabilities"].numpy().astype(np.float64))
    return (logp - logp.mean(axis=1, keepdims=True)) / 10.0


def test_all_eight_exif_orientations_are_served_upright(saved_model):
    blobs = [oriented.stored_jpeg(n) for n in range(1, 9)] + [oriented.stored_jpeg(n, True) for n in (6, 8)]
    blobs.append(imagefiles.encode(oriented.upright(), "PNG"))  # no EXIF: left as stored, in the same batch
    seen = _seen(saved_model, blobs)
    upright = _seen(saved_model, [imagefiles.encode(oriented.upright(), "JPEG", quality=95)])[0]
    error = np.abs(seen - upright).max(axis=1)
    assert error[:-1].max() < 0.01 and error[-1] < 0.05, error  # the PNG has no JPEG artefacts: 0.025
    # Without the tag, the stored pixels are sideways: the check above can fail.
    untagged = imagefiles.encode(oriented.upright().transpose(oriented.TO_UPRIGHT[8]), "JPEG", quality=95)
    assert np.abs(_seen(saved_model, [untagged])[0] - upright).max() > 0.2


def test_too_many_pixels_is_an_invalid_argument_and_serving_goes_on(saved_model):
    for data in (_forged("png"), _forged("jpeg"), imagefiles.gif_with_frames(101)):
        with pytest.raises(tf.errors.InvalidArgumentError, match="image too large: 30000x30000|more than 100 frames"):
            saved_model(image_bytes=tf.constant([data]))
        assert saved_model(image_bytes=tf.constant([imagefiles.jpeg()]))["probabilities"].shape == (1, N_OUT)
