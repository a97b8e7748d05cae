"""Make README's pictures (docs/): the dev split painted (contact sheet), a photo before/after with
a strip of the painting process, and (if given) an agent's learning curve.

    python benchmarks/gallery.py --dev data/dev --photo PHOTO [--strokes 200] [--big-strokes 1500] [--curve LOG.jsonl ...]

--curve: train-agent's logs (`<out>.log.jsonl`) of one agent's runs in order (a run with --init
after the run it started from), drawn as one curve over the minutes of all of them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image, ImageDraw

import strokepaint
from strokepaint import engine, images

DOCS = Path(__file__).resolve().parents[1] / "docs"


def contact_sheet(dev: Path, strokes: int, method: str) -> Image.Image:
    files = images.find(dev)
    sheet = Image.new("RGB", (len(files) * 132 + 4, 2 * 132 + 4), "white")
    tools = engine.Tools.load("bezier")
    for i, f in enumerate(files):
        target = images.eval_picture(f)
        painting = strokepaint.paint(target, strokes=strokes, tools=tools, method=method)
        sheet.paste(target, (4 + 132 * i, 4))
        sheet.paste(engine._pil(painting.image()), (4 + 132 * i, 136))
    return sheet


def before_after(photo: Path, strokes: int, method: str, frames: int = 6) -> tuple[Image.Image, Image.Image]:
    img = images.open_rgb(photo)
    s = 480 / max(img.size)
    img = img.resize((round(img.width * s), round(img.height * s)), Image.LANCZOS)
    painting = strokepaint.paint(img, strokes=strokes, method=method)
    pair = Image.new("RGB", (img.width * 2 + 12, img.height + 8), "white")
    pair.paste(img, (4, 4))
    pair.paste(engine._pil(painting.image()), (img.width + 8, 4))
    shots = painting.frames(count=frames, longest=200)[1:]
    w, h = shots[0].shape[2], shots[0].shape[1]
    strip = Image.new("RGB", (len(shots) * (w + 4) + 4, h + 24), "white")
    draw = ImageDraw.Draw(strip)
    n = len(painting.strokes)
    for i, f in enumerate(shots):
        strip.paste(engine._pil(f), (4 + i * (w + 4), 4))
        draw.text((4 + i * (w + 4), h + 8), f"{round(n * (i + 1) / len(shots))} strokes", fill="black")
    return pair, strip


def joined_curve(logs: list[Path]) -> bytes:
    """Validation MSE against training minutes over several runs of one agent, each run's
    minutes after the one before's."""
    from strokepaint.train_agent import learning_curve

    points: list[tuple[float, float]] = []
    for log in logs:
        start = points[-1][0] if points else 0.0
        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        # (a later run's first point, at 0 s, is the agent it started from: the previous run's end)
        points += [(start + r["seconds"] / 60, r["val_mse"]) for r in rows if "val_mse" in r and (r["seconds"] > 0 or not points)]
    return learning_curve(points, f"validation MSE (log scale) against training minutes, {len(logs)} run(s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=Path, required=True)
    ap.add_argument("--photo", type=Path, required=True)
    ap.add_argument("--strokes", type=int, default=200)
    ap.add_argument("--big-strokes", type=int, default=1500)
    ap.add_argument("--method", default="auto", help="as paint's --method (default: auto, what paint does)")
    ap.add_argument("--curve", type=Path, nargs="+", help="train-agent logs (.log.jsonl), first run first")
    ap.add_argument("--threads", type=int)
    a = ap.parse_args()
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    DOCS.mkdir(exist_ok=True)
    contact_sheet(a.dev, a.strokes, a.method).save(DOCS / "dev_contact_sheet.png", optimize=True)
    pair, strip = before_after(a.photo, a.big_strokes, a.method)
    pair.save(DOCS / "before_after.jpg", quality=88)
    strip.save(DOCS / "process_strip.jpg", quality=88)
    if a.curve:
        (DOCS / "agent_learning_curve.png").write_bytes(joined_curve(a.curve))
    print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
