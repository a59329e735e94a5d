import pytest

from components import features
from components.ingest import image_check
from tests.helpers import imagefiles as images


@pytest.mark.parametrize("name", sorted(images.good_files()))
def test_good_images_are_accepted_by_content(name):
    data = images.good_files()[name]
    info = image_check.check_image(data)
    assert info.width > 0 and info.height > 0


def test_header_sizes_and_formats():
    assert image_check.read_header(images.jpeg(64, 48)) == image_check.ImageInfo("jpeg", 64, 48)
    png = images.encode(images.photo(31, 17), "PNG")
    assert image_check.read_header(png) == image_check.ImageInfo("png", 31, 17)
    bmp = images.encode(images.photo(12, 7), "BMP")
    assert image_check.read_header(bmp) == image_check.ImageInfo("bmp", 12, 7)
    assert image_check.read_header(images.animated_gif()) == image_check.ImageInfo("gif", 32, 32)


@pytest.mark.parametrize("name", sorted(images.bad_files()))
def test_bad_files_get_a_reason(name):
    data, reason = images.bad_files()[name]
    with pytest.raises(image_check.NotAnImageError) as err:
        image_check.check_image(data)
    assert str(err.value).startswith(reason), str(err.value)


def test_pixel_cap_is_checked_before_decoding():
    # 30000x30000 with only a header: a decode would fail differently, so the
    # message proves the cap ran first.
    with pytest.raises(image_check.NotAnImageError, match="exceeds the 0.001-megapixel limit"):
        image_check.check_image(images.jpeg(64, 48), max_pixels=1000)


@pytest.mark.parametrize(
    "name, metadata",
    [("LICENSE.txt", True), (".DS_Store", True), ("Thumbs.db", True), ("README.md", True),
     ("._photo.jpg", True), ("photo.jpg", False), ("license_plate.jpg", False)],
)
def test_dataset_metadata_names(name, metadata):
    assert image_check.is_dataset_metadata(name) is metadata


def test_sixteen_bit_png_is_really_sixteen_bit():
    data = images.png16()
    assert data[24] == 16  # IHDR bit depth
    assert image_check.check_image(data) == image_check.ImageInfo("png", 20, 10)


def test_gif_frames_are_counted_and_capped():
    assert image_check.gif_frames(images.gif_with_frames(7), limit=100) == 7
    assert image_check.check_image(images.gif_with_frames(features.MAX_GIF_FRAMES)).format == "gif"
    with pytest.raises(image_check.NotAnImageError, match=r"^GIF with more than 100 frames"):
        image_check.check_image(images.gif_with_frames(features.MAX_GIF_FRAMES + 1))


def test_every_gif_frame_counts_towards_the_pixel_limit():
    three = images.animated_gif()  # 32x32, 3 frames: TensorFlow decodes all three
    assert image_check.check_image(three, max_pixels=3 * 32 * 32).format == "gif"
    with pytest.raises(image_check.NotAnImageError, match=r"32x32 x 3 frames exceeds the 0.003-megapixel limit"):
        image_check.check_image(three, max_pixels=3000)
