"""Print the paint and agent issues' target figures, measured side by side in one run.

    python benchmarks/paint_targets.py --dev data/dev [--agent [--agent-brushes bezier,line]] [--big PHOTO]
        [--skip-peer] [--skip-paint] [--skip-big | --big-only] [--method auto]

0. (--agent) each brush's agent alone (default: bezier) at 200 strokes against geometrize; MSE at
   50 -> 100 -> 200.
1. 128x128 dev split, 200 and 1000 strokes with default settings (`strokepaint eval`), against
   geometrize with as many triangles (../shared/peers/peer_eval.py), MSE and seconds per image.
2. MSE at 50 -> 100 -> 200 strokes per dev image (must fall on every image).
3. A 1280x851 photo with 4,000 strokes (`strokepaint paint`, a child process): wall time, peak
   memory, full-resolution MSE against the 128-px painting (200 strokes) upscaled, and the MSE
   within 4 px of the finest tiles' borders against the MSE elsewhere. --big names the photo
   (resized and centre-cropped to 1280x851); default: the first MATE nature background.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

PEER = Path(__file__).resolve().parents[2] / "shared" / "peers" / "peer_eval.py"
MATE = Path("/usr/share/backgrounds/mate/nature")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "strokepaint", *args], capture_output=True, text=True, check=True)


def peer(dev: Path, n: int) -> tuple[float, float]:
    out = subprocess.run([sys.executable, str(PEER), str(dev), str(n)], capture_output=True, text=True, check=True).stdout
    _, mse, sec = out.strip().splitlines()[-1].split()
    return float(mse), float(sec)


def ours(dev: Path, counts: str, method: str, *extra: str) -> dict:
    return json.loads(cli("eval", str(dev), "--strokes", counts, "--method", method, *extra, "--json").stdout)


def falls(res: dict) -> None:
    by: dict[str, list[float]] = {}
    for row in res["images"]:
        by.setdefault(row["name"], []).append(row["mse"])
    for name, mses in by.items():
        ok = all(x > y for x, y in zip(mses, mses[1:]))
        print(f"  {name:16s} " + " -> ".join(f"{x:.5f}" for x in mses) + ("  falls" if ok else "  DOES NOT FALL"))


def big_photo(path: Path | None, dest: Path) -> Path:
    """The photo (default: the first MATE nature background) resized and centre-cropped to
    1280x851, saved to `dest`; a missing or unreadable photo ends the script with a one-line error."""
    from strokepaint import images
    from strokepaint.errors import UsageError

    src = path or min(MATE.glob("*.jpg"), default=MATE / "(no photos)")
    try:
        img = images.open_rgb(src)
    except UsageError as e:
        raise SystemExit(f"error: {e}") from None
    s = max(1280 / img.width, 851 / img.height)
    img = img.resize((round(img.width * s), round(img.height * s)), Image.LANCZOS)
    left, top = (img.width - 1280) // 2, (img.height - 851) // 2
    img.crop((left, top, left + 1280, top + 851)).save(dest, quality=95)
    print(f"big photo: {src} -> 1280x851")
    return dest


def painting_border_errors(err: np.ndarray, painting, cfg, actor) -> tuple[float, float]:
    """border_errors over the finest tiles of the plan a painting (engine.run) was made with."""
    from strokepaint.engine import plan_for

    passes, _ = plan_for(cfg, actor if painting.method == "agent" else None, painting.width, painting.height)
    return border_errors(err, passes[-1])


def border_errors(err: np.ndarray, tiles) -> tuple[float, float]:
    """Mean of a squared-error map [H, W] within 4 px of the tiles' inner borders, and elsewhere."""
    h, w = err.shape
    near = np.zeros((h, w), bool)
    for t in tiles:
        for x in (t.x, t.x + t.side):
            if 4 < x < w - 4:
                near[:, max(0, round(x) - 4) : round(x) + 4] = True
        for y in (t.y, t.y + t.side):
            if 4 < y < h - 4:
                near[max(0, round(y) - 4) : round(y) + 4, :] = True
    return float(err[near].mean()), float(err[~near].mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=Path, required=True)
    ap.add_argument("--big", type=Path)
    ap.add_argument("--method", default="auto")
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--big-only", action="store_true", help="the big-photo figures only (e.g. on other photos)")
    ap.add_argument("--agent", action="store_true", help="also measure agents alone (no refinement)")
    ap.add_argument("--agent-brushes", default="bezier", help="comma-separated brushes whose agents --agent measures")
    ap.add_argument("--skip-paint", action="store_true", help="measure the agents only (no default-painting or big-photo figures)")
    a = ap.parse_args()
    peers: dict[int, tuple[float, float]] = {}

    def peer_cached(n: int) -> tuple[float, float]:
        if n not in peers:
            peers[n] = peer(a.dev, n)
        return peers[n]

    if a.agent:
        for brush in a.agent_brushes.split(","):
            print(f"== the {brush} agent alone, 128x128 dev split ==")
            res = ours(a.dev, "50,100,200", "agent", "--brush", brush, "--refine", "0", "--no-colour-fit")
            m = res["mean"]["200"]
            line = f"  200 strokes  agent: mse {m['mse']:.5f}  {m['seconds']:.2f} s/image"
            if not a.skip_peer:
                pm, ps = peer_cached(200)
                line += f"  | geometrize: mse {pm:.5f}  {ps:.2f} s/image  | mse ratio {m['mse'] / pm:.2f} (target < 1)"
                line += f", time ratio {m['seconds'] / ps:.2f} (target <= 0.2)"
            print(line, flush=True)
            falls(res)

    if a.skip_paint:
        return
    if not a.big_only:
        small_pictures(a, peer_cached)
    if not a.skip_big:
        big(a)


def small_pictures(a: argparse.Namespace, peer_cached) -> None:
    print("== 128x128 dev split, default settings ==")
    for n, factor in ((200, 0.8), (1000, 1.0)):
        res = ours(a.dev, str(n), a.method)
        m = res["mean"][str(n)]
        line = f"{n:5d} strokes  ours ({res['method']}): mse {m['mse']:.5f}  {m['seconds']:.2f} s/image"
        if not a.skip_peer:
            pm, ps = peer_cached(n)
            line += f"  | geometrize {n} triangles: mse {pm:.5f}  {ps:.2f} s/image"
            timed = " (target <= 0.25)" if n == 200 else ""  # the time target is on 200 strokes
            line += f"  | mse ratio {m['mse'] / pm:.2f} (target <= {factor}), time ratio {m['seconds'] / ps:.2f}{timed}"
        print(line, flush=True)

    print("== MSE as strokes rise (50 -> 100 -> 200) ==")
    falls(ours(a.dev, "50,100,200", a.method))


def big(a: argparse.Namespace) -> None:
    print("== 1280x851, 4,000 strokes ==")
    from strokepaint import engine, images

    with tempfile.TemporaryDirectory() as tmp:
        photo = big_photo(a.big, Path(tmp) / "big.jpg")
        out = Path(tmp) / "big.png"
        t0 = time.perf_counter()
        cli("paint", str(photo), "--strokes", "4000", "--method", a.method, "-o", str(out))
        wall = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        target = images.load(photo).numpy()
        painted = np.asarray(Image.open(out).convert("RGB"), dtype=np.float64).transpose(2, 0, 1) / 255
        err = ((painted - target) ** 2).mean(0)
        small = Path(tmp) / "small.png"
        Image.open(photo).resize((128, 85), Image.LANCZOS).save(small)
        cli("paint", str(small), "--strokes", "200", "--method", a.method, "-o", str(Path(tmp) / "small_painted.png"))
        up = Image.open(Path(tmp) / "small_painted.png").resize((1280, 851), Image.BICUBIC)
        up_err = float(((np.asarray(up, dtype=np.float64).transpose(2, 0, 1) / 255 - target) ** 2).mean())
        from strokepaint import agent
        from strokepaint.plugins import get_brush

        actor = agent.load(get_brush("bezier"))[0]  # the tiles `paint` used: its method's plan
        cfg = engine.PaintConfig(strokes=4000, method=a.method)
        method = engine.choose_method(cfg, actor, 1280, 851)
        passes, _ = engine.plan_for(cfg, actor if method == "agent" else None, 1280, 851)
        print(f"method {method}: time {wall:.1f} s (target <= 15 s), peak memory {peak:.0f} MB (target <= 2048 MB)")
        gain = 100 * (1 - err.mean() / up_err)
        print(f"full-res mse {err.mean():.5f}; 128-px painting (200 strokes) upscaled {up_err:.5f}: {gain:.0f}% lower (target >= 30%)")
        seam, rest = border_errors(err, passes[-1])
        side = passes[-1][0].side
        print(f"mse within 4 px of the finest ({side:.0f} px) tiles' borders {seam:.5f}, elsewhere {rest:.5f}: ", end="")
        print(f"ratio {seam / rest:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
