"""Prepare the offline photo folders for training and evaluating agents.

    sudo apt-get install opencv-doc mate-backgrounds      # training photos
    pip install scikit-image scikit-learn                  # more training photos + the dev split
    python benchmarks/prepare_data.py --train data/train --dev data/dev --tune data/tune

--train gets copies of the training photos (opencv-doc's example photos, the MATE nature
backgrounds, scikit-image's bundled images except the dev split). --dev gets the dev split, for
evaluation only: scikit-image astronaut, chelsea, coffee, rocket and scikit-learn's china.jpg and
flower.jpg as 128x128 centre crops (shorter side resized with LANCZOS). --tune gets 128x128 centre
crops of eight training photos, for choosing settings (benchmarks/agent_tiles.py) without looking
at the dev split. Sources that are not installed are skipped with a message.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from strokepaint import images
from strokepaint.errors import UsageError

OPENCV = Path("/usr/share/doc/opencv-doc/examples/data")
MATE = Path("/usr/share/backgrounds/mate/nature")
DEV_SKIMAGE = {"astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"}
DEV_SKLEARN = ("china.jpg", "flower.jpg")
TUNE = [MATE / f"{n}.jpg" for n in ("Dune", "LadyBird", "Storm", "Wood")]
TUNE += [OPENCV / n for n in ("HappyFish.jpg", "aero1.jpg", "apple.jpg", "baboon.jpg")]


def _package_dir(module: str, sub: str) -> Path | None:
    try:
        mod = __import__(module, fromlist=["__file__"])
    except ImportError:
        return None
    return Path(mod.__file__).parent / sub


def _copy_photos(src: Path | None, dest: Path, prefix: str, exclude: set[str] = frozenset()) -> int:
    if src is None or not src.is_dir():
        print(f"skipped {prefix}: {src or 'package'} not installed", file=sys.stderr)
        return 0
    n = 0
    for f in images.find(src):
        if f.name in exclude:
            continue
        try:
            w, h = images.open_rgb(f).size
        except UsageError:
            continue
        if min(w, h) < 64:  # icons and masks teach nothing
            continue
        shutil.copyfile(f, dest / f"{prefix}-{f.relative_to(src).as_posix().replace('/', '-')}")
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, help="folder for the training photos")
    ap.add_argument("--dev", type=Path, help="folder for the 128x128 dev split")
    ap.add_argument("--tune", type=Path, help="folder for 128x128 crops of 8 training photos (tuning)")
    args = ap.parse_args()
    if args.train:
        args.train.mkdir(parents=True, exist_ok=True)
        n = _copy_photos(OPENCV, args.train, "opencv")
        n += _copy_photos(MATE, args.train, "mate")
        n += _copy_photos(_package_dir("skimage", "data"), args.train, "skimage", DEV_SKIMAGE)
        print(f"{args.train}: {n} training photos")
    if args.dev:
        args.dev.mkdir(parents=True, exist_ok=True)
        sources = [(_package_dir("skimage", "data"), name) for name in sorted(DEV_SKIMAGE)]
        sources += [(_package_dir("sklearn.datasets", "images"), name) for name in DEV_SKLEARN]
        n = 0
        for folder, name in sources:
            if folder is None or not (folder / name).is_file():
                print(f"skipped dev image {name}: not installed", file=sys.stderr)
                continue
            images.eval_picture(folder / name).save(args.dev / (Path(name).stem + ".png"))
            n += 1
        print(f"{args.dev}: {n} dev images (128x128)")
    if args.tune:
        args.tune.mkdir(parents=True, exist_ok=True)
        n = 0
        for f in TUNE:
            if not f.is_file():
                print(f"skipped tuning image {f}: not installed", file=sys.stderr)
                continue
            prefix = "mate" if f.parent == MATE else "opencv"
            images.eval_picture(f).save(args.tune / f"{prefix}-{f.stem}.png")
            n += 1
        print(f"{args.tune}: {n} tuning images (128x128)")


if __name__ == "__main__":
    main()
