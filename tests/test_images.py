"""Reading pictures: odd but valid images become upright RGB; bad files get one-line errors."""

import numpy as np
import pytest
from PIL import Image

from strokepaint import images
from strokepaint.errors import UsageError


def test_modes_become_rgb(tmp_path):
    cases = {
        "grey.png": Image.new("L", (5, 4), 128),
        "palette.png": Image.new("RGB", (5, 4), (255, 0, 0)).convert("P"),
        "cmyk.jpg": Image.new("CMYK", (5, 4), (0, 255, 255, 0)),
        "one.png": Image.new("RGB", (1, 1), (1, 2, 3)),
    }
    for name, im in cases.items():
        im.save(tmp_path / name)
        t = images.load(tmp_path / name)
        assert t.shape == (3, im.height, im.width) and float(t.min()) >= 0 and float(t.max()) <= 1, name
    assert abs(float(images.load(tmp_path / "palette.png")[0].mean()) - 1.0) < 1e-6


def test_transparent_areas_on_white(tmp_path):
    im = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    im.putpixel((0, 0), (0, 0, 255, 255))
    im.save(tmp_path / "a.png")
    t = images.load(tmp_path / "a.png")
    assert t[:, 3, 3].tolist() == [1.0, 1.0, 1.0] and t[:, 0, 0].tolist() == [0.0, 0.0, 1.0]


def test_sixteen_bit(tmp_path):
    a = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000).astype(np.uint16)
    Image.fromarray(a).save(tmp_path / "d.png")
    t = images.load(tmp_path / "d.png")
    assert t.shape == (3, 3, 4) and abs(float(t[0, 2, 3]) - 55000 / 65535) < 0.01


@pytest.mark.parametrize("top", [1.0, 255.0])
def test_float_pictures(tmp_path, top):
    """Float TIFFs: values in [0, 1] (the usual convention) or 0..255."""
    a = np.full((3, 4), 0.5 * top, dtype=np.float32)
    Image.fromarray(a, "F").save(tmp_path / "f.tif")
    t = images.load(tmp_path / "f.tif")
    assert t.shape == (3, 3, 4) and abs(float(t.mean()) - 0.5) < 0.01


def test_exif_orientation(tmp_path):
    im = Image.new("RGB", (6, 2), (0, 255, 0))
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90°: displayed 2 wide, 6 tall
    im.save(tmp_path / "r.jpg", exif=exif)
    assert images.load(tmp_path / "r.jpg").shape == (3, 6, 2)


def test_bad_files(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        images.load(tmp_path / "missing.png")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(UsageError, match="not an image"):
        images.load(tmp_path / "text.png")
    Image.new("RGB", (64, 64), (9, 9, 9)).save(tmp_path / "full.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "full.png").read_bytes()[:80])
    with pytest.raises(UsageError, match="truncated"):
        images.load(tmp_path / "cut.png")
    Image.new("L", (3000, 3000)).save(tmp_path / "big.png")
    with pytest.raises(UsageError, match="too large|decompression bomb"):
        images.load(tmp_path / "big.png", max_pixels=1_000_000)
    with pytest.raises(UsageError, match="is a folder"):
        images.load(tmp_path)


def test_find_and_centre_crop(tmp_path):
    (tmp_path / "sub").mkdir()
    Image.new("RGB", (30, 20)).save(tmp_path / "sub" / "a.JPG")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in images.find(tmp_path)] == ["a.JPG"]
    crop = images.centre_crop(images.open_rgb(tmp_path / "sub" / "a.JPG"), 16)
    assert crop.size == (16, 16)


def test_find_follows_linked_folders_once(tmp_path):
    (tmp_path / "photos" / "sub").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "elsewhere" / "b.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "photos" / "sub" / "a.png")
    (tmp_path / "photos" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "photos" / "sub" / "loop").symlink_to(tmp_path / "photos", target_is_directory=True)  # a loop
    assert [p.relative_to(tmp_path / "photos").as_posix() for p in images.find(tmp_path / "photos")] == ["linked/b.png", "sub/a.png"]
