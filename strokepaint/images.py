"""Reading pictures, the one place it happens: defensive against bad and hostile files.

Any format Pillow reads; EXIF orientation respected; greyscale, palette, CMYK, 16-bit and
transparent images become RGB (transparent areas composited on white); decompression bombs and
truncated files are refused with one line naming the file.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from strokepaint.errors import UsageError

if TYPE_CHECKING:
    import torch

MAX_PIXELS = 100_000_000  # ~ a 10,000 x 10,000 photo; Pillow refuses twice this as a bomb
EVAL_SIDE = 128  # the dev-split convention: pictures measured at 128 x 128 (`strokepaint eval`, benchmarks/)
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


def eval_picture(path: str | os.PathLike):
    """A picture as `strokepaint eval` and the benchmarks measure it: EVAL_SIDE square (centre_crop)."""
    return centre_crop(open_rgb(path), EVAL_SIDE)


def as_tensor(image) -> torch.Tensor:
    """A picture (what `strokepaint.paint` takes) as a float tensor [3, H, W] in [0, 1]: a file path, a PIL image, a numpy
    array ([H, W], [H, W, 3] or [H, W, 4]) or a tensor [3, H, W]; uint8 values are read as 0..255."""
    import numpy as np
    import torch

    if isinstance(image, (str, os.PathLike)):
        return load(image)
    if hasattr(image, "convert") and hasattr(image, "mode"):  # a PIL image
        return to_tensor(_to_rgb(image))
    if isinstance(image, np.ndarray):
        from PIL import Image

        a = image
        if a.dtype != np.uint8:
            a = _unit(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)), f"array of shape {a.shape}").numpy()
            a = (a * 255).round().astype(np.uint8)
        if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or 0 in a.shape:
            raise UsageError(f"image array of shape {a.shape}: expected [H, W], [H, W, 3] or [H, W, 4]")
        return to_tensor(_to_rgb(Image.fromarray(a)))
    if isinstance(image, torch.Tensor):
        if image.dim() != 3 or image.shape[0] != 3 or 0 in image.shape:
            raise UsageError(f"image tensor of shape {tuple(image.shape)}: expected [3, H, W]")
        if image.dtype == torch.uint8:
            return image.float() / 255
        if not image.is_floating_point():
            raise UsageError(f"image tensor of {image.dtype}: give uint8 (0..255) or floats in [0, 1]")
        return _unit(image.float(), f"image tensor of shape {tuple(image.shape)}")
    raise UsageError(f"image of type {type(image).__name__}: give a file path, a PIL image, a numpy array or a tensor [3, H, W]")


def _unit(t: torch.Tensor, what: str) -> torch.Tensor:
    """A float tensor checked to be finite and in [0, 1] (up to rounding)."""
    import torch

    if not bool(torch.isfinite(t).all()):
        raise UsageError(f"{what}: has NaN or infinite values")
    if t.numel() and (float(t.min()) < -1e-3 or float(t.max()) > 1 + 1e-3):
        raise UsageError(f"{what}: values from {float(t.min()):g} to {float(t.max()):g}; floats must be in [0, 1] (uint8: 0..255)")
    return t.clamp(0, 1)
