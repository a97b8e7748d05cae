"""Neural renderers against their exact rasterizers: the README's per-brush table.

    python benchmarks/renderers.py [--brushes bezier,line,circle,triangle]

Runs `strokepaint eval-brush NAME --json` for each brush (2,000 fixed strokes from the brush's
sampler at 128x128, forward speed at batch 64) and reads training minutes and steps from the
weights' metadata. Targets: rel_l2 <= 0.03, >= 8,000 strokes/s, trained in <= 60 minutes,
file <= 16 MB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from strokepaint import store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--brushes", default="bezier,line,circle,triangle")
    args = ap.parse_args()
    print("| brush | rel_l2 | mse | training minutes | steps | strokes/s | file MB | targets met |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.brushes.split(","):
        found = store.find(name, "renderer")
        if found is None:
            print(f"| {name} | no renderer | | | | | | |")
            continue
        r = subprocess.run([sys.executable, "-m", "strokepaint", "eval-brush", name, "--json"], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"| {name} | error: {r.stderr.strip()} | | | | | | |")
            continue
        res = json.loads(r.stdout)
        meta = store.load_weights(found[0], "renderer")[1]
        minutes = float(meta.get("train_seconds", "nan")) / 60
        mb = found[0].stat().st_size / 2**20
        met = res["rel_l2"] <= 0.03 and res["strokes_per_s"] >= 8000 and minutes <= 60 and mb <= 16
        print(
            f"| {name} | {res['rel_l2']:.4f} | {res['mse']:.6f} | {minutes:.1f} | {meta.get('steps')} | "
            f"{res['strokes_per_s']:,.0f} | {mb:.1f} | {'yes' if met else 'no'} |"
        )


if __name__ == "__main__":
    main()
