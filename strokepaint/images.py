"""Reading pictures, the one place it happens: defensive against bad and hostile files.

Any format Pillow reads; EXIF orientation respected; greyscale, palette, CMYK, 16-bit and
transparent images become RGB (transparent areas composited on white); decompression bombs and
truncated files are refused with one line naming the file.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from strokepaint.errors import UsageError

MAX_PIXELS = 100_000_000  # ~ a 10,000 x 10,000 photo; Pillow refuses twice this as a bomb
EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm", ".pnm"}


def open_rgb(path: str | os.PathLike, max_pixels: int = MAX_PIXELS):
    """A PIL RGB image of the file, upright, transparent areas on white."""
    from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, not an image")
    old_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.width * im.height > max_pixels:
                    raise UsageError(f"{path}: {im.width}x{im.height} pixels is too large (limit {max_pixels:,} pixels)")
                im.load()
                im = ImageOps.exif_transpose(im)
                return _to_rgb(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UsageError(f"{path}: refused as a decompression bomb (more than {max_pixels:,} pixels)") from None
    except UnidentifiedImageError:
        raise UsageError(f"{path}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise UsageError(f"{path}: unreadable or truncated image ({e})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit


def _to_rgb(im):
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16/32-bit or float greyscale: scale to 8 bits
        import numpy as np

        a = np.asarray(im, dtype=np.float64)
        a = np.where(np.isfinite(a), a, 0.0)  # (NaN and infinite pixels: black, and no scale from them)
        if im.mode == "F":  # float pixels: in [0, 1] (the usual convention), else 0..255 or 0..65535
            top = 1.0 if a.max() <= 1.0 else 65535.0 if a.max() > 255 else 255.0
        else:
            top = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        im = Image.fromarray((a / top * 255).clip(0, 255).astype("uint8"), "L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("LA", "La", "PA", "RGBa"):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im).convert("RGB")
    return im.convert("RGB")


def to_tensor(img):
    """PIL RGB image -> float tensor [3, H, W] in [0, 1]."""
    import numpy as np
    import torch

    a = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(a).permute(2, 0, 1).contiguous()


def load(path: str | os.PathLike, max_pixels: int = MAX_PIXELS):
    """Image file -> float tensor [3, H, W] in [0, 1]."""
    return to_tensor(open_rgb(path, max_pixels))


def find(folder: str | os.PathLike) -> list[Path]:
    """Image files under a folder, recursively (linked folders too, each once), by extension, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: {'not a folder' if folder.exists() else 'no such folder'}")
    found, seen = [], set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree, or a second link to the same folder
            dirs.clear()
            continue
        seen.add(real)
        found += [Path(root) / f for f in files if Path(f).suffix.lower() in EXTENSIONS and (Path(root) / f).is_file()]
    return sorted(found)


def centre_crop(img, size: int):
    """The dev-split convention: shorter side resized to `size` (LANCZOS), centre crop size x size."""
    from PIL import Image

    w, h = img.size
    s = size / min(w, h)
    img = img.resize((max(size, round(w * s)), max(size, round(h * s))), Image.LANCZOS)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))
