"""Painting settings side by side: the same pictures painted with each variant of PaintConfig.

    python benchmarks/engine_ab.py --images data/dev --strokes 200 --variant phases=1 --variant phases=4
    python benchmarks/engine_ab.py --photo PHOTO --strokes 4000 --variant phases=1 --variant "phases=4 method='agent'"

A variant is PaintConfig fields as `key=value` (Python literals), space-separated; `--strokes` and
the rest of the defaults apply to all. --images: every picture in the folders at 128x128 (the
dev-split convention); --photo: one photo resized and centre-cropped to 1280x851 (as
paint_targets.py), for which the MSE within 4 px of the finest tiles' borders against the MSE
elsewhere is printed too. Per variant: mean MSE of the exact painting (colour fit included, as
`paint` does), seconds per picture (painting and exact rendering), the method `auto` chose.
--brush NAME paints with another brush than bezier; --agent PATH with another agent than the
installed one.
"""

from __future__ import annotations

import argparse
import ast
import tempfile
import time
from pathlib import Path

import torch


def parse_variant(text: str) -> dict:
    out = {}
    for item in text.split():
        key, _, value = item.partition("=")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise ValueError(f"--variant {text!r}: {item!r} is not key=value with a Python literal") from None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", type=Path, nargs="+", help="folders of pictures, painted at 128x128")
    src.add_argument("--photo", type=Path, help="a photo, painted at 1280x851")
    ap.add_argument("--strokes", type=int, required=True)
    ap.add_argument("--variant", action="append", required=True, help="PaintConfig fields, e.g. 'phases=1 refine=60'")
    ap.add_argument("--brush", default="bezier", help="the brush to paint with (default bezier)")
    ap.add_argument("--agent", type=Path, help="agent weights instead of the installed agent")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from paint_targets import big_photo, painting_border_errors

    from strokepaint import images
    from strokepaint.engine import PaintConfig, Tools, run
    from strokepaint.errors import UsageError

    try:
        variants = [parse_variant(v) for v in a.variant]
        configs = [PaintConfig(strokes=a.strokes, **v) for v in variants]
        tools = Tools.load(a.brush, "cpu", agent_path=a.agent)
        if a.photo:
            with tempfile.TemporaryDirectory() as tmp:
                targets = [images.load(big_photo(a.photo, Path(tmp) / "big.jpg"))]
        else:
            files = [f for folder in a.images for f in images.find(folder)]
            targets = [images.to_tensor(images.eval_picture(f)) for f in files]
    except (UsageError, ValueError, TypeError) as e:
        raise SystemExit(f"error: {e}") from None
    if not targets:
        raise SystemExit(f"error: {' '.join(map(str, a.images))}: no pictures")
    print(f"{len(targets)} picture(s), {a.strokes} strokes, {a.threads} threads")
    for text, cfg in zip(a.variant, configs):
        mse, seconds, ratios, methods = [], 0.0, [], set()
        for t in targets:
            t0 = time.perf_counter()
            p = run(t, tools.brush, tools.renderer, cfg, tools.actor)
            img = p.image()
            seconds += time.perf_counter() - t0
            err = ((img - t) ** 2).mean(0)
            mse.append(float(err.mean()))
            methods.add(p.method)
            if a.photo:
                near, rest = painting_border_errors(err.numpy(), p, cfg, tools.actor)
                ratios.append(near / rest)
        line = f"{text:40s} MSE {sum(mse) / len(mse):.5f}  {seconds / len(targets):.2f} s/picture  method {'/'.join(sorted(methods))}"
        if ratios:
            line += f"  border/elsewhere {ratios[0]:.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
