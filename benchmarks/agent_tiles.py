"""How an agent paints a picture best: its `tile_steps` and `later_step`, measured, optionally saved.

    python benchmarks/agent_tiles.py --agent bezier.agent.safetensors --images data/tune [--strokes 200] [--big PHOTO] [--write]

The engine paints patch-wise, coarse to fine; the finest tiles get `tile_steps` actions of the
agent and every pass after the first starts at step `later_step` of its episode (the canvas is
partly painted). Both depend on how the agent was trained (its episode length above all), so
they are measured after training: each pair on a grid is used to paint every image in --images
with the agent alone (no refinement, no colour fit), and the script prints the mean MSE per pair.
`--write` stores the best pair in the agent's metadata (atomically), where the engine reads it.
Tune on pictures that are not the dev split (prepare_data.py --tune: crops of training photos).

On 128-px pictures the engine never makes tiles below 16 px, so several `tile_steps` paint the
same plan and tie; pairs within 1 % of the best tie. Ties are broken on a big photo (`--big`,
default MATE `Aqua.jpg`, a training photo, resized to 1280 px wide, 4,000 strokes, the agent
alone), where they give different tiles: of the tied values that give the big photo's best plan,
the largest (fewer, larger tiles elsewhere too).

Big photos: `later_step` values within 2 % of the best MSE (`--seam-band`) tie as well, and the
tie is decided on three big photos (`--seams`, default MATE Aqua, Storm and LadyBird, training
photos, resized and centre-cropped to 1280x851 as paint_targets.py does), each painted with 4,000
strokes as `paint` paints them with the agent (refined): on 128-px pictures later passes lay their
strokes on a canvas the first pass barely covered, on big photos over earlier passes, so the step
they start at shows there. Of the tied values whose tiles' borders do not show (the worst ratio
of the MSE within 4 px of the finest tiles' borders to the MSE elsewhere at most `--seam-limit`,
1.2, the engine's target), the one with the lowest mean MSE on the big photos is kept; if none,
the one with the fewest seams, with a warning. The ratios move by ~0.02 with the number of
threads (rounding): measure with the threads `paint` uses (2 here).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

MATE = Path("/usr/share/backgrounds/mate/nature")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agent", type=Path, required=True, help="agent weights (.safetensors)")
    ap.add_argument("--images", type=Path, required=True, help="folder of pictures (resized to 128x128)")
    ap.add_argument("--brush", default="bezier")
    ap.add_argument("--strokes", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--big", type=Path, default=MATE / "Aqua.jpg", help="photo that breaks ties")
    seams = [MATE / f"{n}.jpg" for n in ("Aqua", "Storm", "LadyBird")]
    ap.add_argument("--seams", type=Path, nargs="+", default=seams, help="big photos whose seams are checked")
    ap.add_argument("--seam-band", type=float, default=0.02, help="later_steps this close to the best MSE tie")
    ap.add_argument("--seam-limit", type=float, default=1.2, help="largest border/elsewhere MSE ratio accepted")
    ap.add_argument("--write", action="store_true", help="store the best pair in the agent's metadata")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    from paint_targets import big_photo

    from strokepaint import images
    from strokepaint.engine import PaintConfig, Tools, run
    from strokepaint.errors import UsageError

    try:
        tools = Tools.load(a.brush, "cpu", agent_path=a.agent)
        pictures = [images.eval_picture(f) for f in images.find(a.images)]
        big = images.open_rgb(a.big)
        with tempfile.TemporaryDirectory() as tmp:  # as engine_ab.py --photo and paint_targets.py crop them
            seam_photos = [images.load(big_photo(f, Path(tmp) / f"{i}.jpg")) for i, f in enumerate(a.seams)]
    except UsageError as e:
        raise SystemExit(f"error: {e}") from None
    if not pictures or tools.actor is None:
        raise SystemExit(f"error: {a.images}: no pictures" if not pictures else f"error: {a.agent}: no agent")
    targets = [images.to_tensor(p) for p in pictures]
    cfg = tools.actor.cfg
    t_max = cfg.steps
    tiles = sorted({s for s in (1, 2, 3, 4, 5, 6, 8, 10, 15, 20) if s <= t_max} | {max(1, t_max // 8)})
    laters = sorted({0, t_max // 8, t_max // 4, t_max // 2})
    print(f"{a.agent}: episode {t_max} actions of {cfg.bundle}; saved tile_steps {cfg.tile_steps}, later_step {cfg.later_step}")
    print(f"{len(targets)} pictures from {a.images}, {a.strokes} strokes, the agent alone")
    paint_cfg = PaintConfig(strokes=a.strokes, method="agent", refine=0, fit_colours=False)
    results = {}
    for ts in tiles:
        for ls in laters:
            cfg.tile_steps, cfg.later_step = ts, ls
            t0 = time.perf_counter()
            mse = [float(((run(t, tools.brush, tools.renderer, paint_cfg, tools.actor).image() - t) ** 2).mean()) for t in targets]
            results[ts, ls] = sum(mse) / len(mse)
            seconds = (time.perf_counter() - t0) / len(targets)
            print(f"tile_steps {ts:3d}  later_step {ls:3d}  MSE {results[ts, ls]:.5f}  ({seconds:.2f} s/picture)", flush=True)
    low = min(results.values())
    best_of = {ls: min(v for k, v in results.items() if k[1] == ls) for ls in laters}
    band = [ls for ls in sorted(laters, key=best_of.get) if best_of[ls] <= low * (1 + a.seam_band)]
    checked: dict[int, tuple[int, float, float]] = {}  # later_step -> tile_steps, worst seam ratio, big photos' MSE
    for ls in band:  # later_steps that tie on 128-px pictures: decided on big photos
        tied = sorted(k[0] for k, v in results.items() if k[1] == ls and v <= best_of[ls] * 1.01)
        ts = _break_ties(tied, ls, big, tools, cfg)
        checked[ls] = ts, *_seams(seam_photos, tools, cfg, ts, ls)
        ratio, mse = checked[ls][1:]
        print(f"big photos: tile_steps {ts}, later_step {ls}: MSE {mse:.6f}, border ratio {ratio:.3f}", flush=True)
    clean = [k for k in checked if checked[k][1] <= a.seam_limit]
    ls = min(clean, key=lambda k: checked[k][2]) if clean else min(checked, key=lambda k: checked[k][1])
    if not clean:
        print(f"warning: the seams show (ratio {checked[ls][1]:.3f} > {a.seam_limit}) with every later_step in the band")
    ts = checked[ls][0]
    best = results[ts, ls]
    print(f"best: tile_steps {ts}, later_step {ls}: MSE {best:.5f} (lowest {low:.5f})")
    if a.write:
        import json

        from strokepaint.agent import update_settings

        measured = json.dumps({"images": a.images.name, "strokes": a.strokes, "mse": round(best, 6)})
        update_settings(a.agent, {"tile_steps": ts, "later_step": ls}, tiles_measured=measured)
        print(f"wrote tile_steps {ts}, later_step {ls} into {a.agent}")


def _break_ties(candidates: list[int], later: int, photo, tools, cfg) -> int:
    """Of `tile_steps` values that tie on 128-px pictures, the largest of those that give the big
    photo (1280 px wide, 4,000 strokes, the agent alone) its lowest MSE."""
    from PIL import Image

    from strokepaint import images
    from strokepaint.engine import PaintConfig, plan_for, run

    w = 1280
    h = max(1, round(photo.height * w / photo.width))
    target = images.to_tensor(photo.resize((w, h), Image.LANCZOS))
    paint_cfg = PaintConfig(strokes=4000, method="agent", refine=0, fit_colours=False)
    plans: dict[tuple, list[int]] = {}
    for ts in candidates:  # values that give the same tiles paint the same picture
        cfg.tile_steps = ts
        passes, budgets = plan_for(paint_cfg, tools.actor, w, h)
        plans.setdefault((tuple(len(p) for p in passes), tuple(budgets)), []).append(ts)
    if len(plans) == 1:
        return max(candidates)
    scores = {}
    for key, group in plans.items():
        cfg.tile_steps, cfg.later_step = group[0], later
        scores[key] = float(((run(target, tools.brush, tools.renderer, paint_cfg, tools.actor).image() - target) ** 2).mean())
        print(f"tie on the big photo ({w}x{h}): tile_steps {group}: {key[0][-1]} finest tiles, MSE {scores[key]:.5f}", flush=True)
    return max(plans[min(scores, key=scores.get)])


def _seams(photos, tools, cfg, ts: int, ls: int) -> tuple[float, float]:
    """(the worst ratio over `photos` of the MSE within 4 px of the finest tiles' borders to the
    MSE elsewhere, their mean MSE), each painted with 4,000 strokes as `paint` paints with the
    agent (refined)."""
    from paint_targets import painting_border_errors

    from strokepaint.engine import PaintConfig, run

    cfg.tile_steps, cfg.later_step = ts, ls
    paint_cfg = PaintConfig(strokes=4000, method="agent")
    worst, mse = 0.0, []
    for target in photos:
        p = run(target, tools.brush, tools.renderer, paint_cfg, tools.actor)
        err = ((p.image() - target) ** 2).mean(0).numpy()
        near, rest = painting_border_errors(err, p, paint_cfg, tools.actor)
        worst, mse = max(worst, near / rest), [*mse, float(err.mean())]
    return worst, sum(mse) / len(mse)


if __name__ == "__main__":
    main()
