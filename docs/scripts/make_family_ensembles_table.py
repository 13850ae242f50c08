"""Write docs/_static/validation/family_ensembles.md: ensembles against hycs_std per met family.

Usage:
    make_family_ensembles_table.py [--workers=N]

Options:
    --workers=N  our runs at a time [default: 2]

Runs stilt on each family of tests/family_cases.py (seeds 1-4 x 1000 particles pooled, 24 h
backward, default settings) and compares with the binary's seeds in tests/data/binary_families
(written by bench/binary_family_ensembles.py), as tests/test_family_ensembles.py does: the
worst hour of each hourly statistic against the binary's pooled seeds, with in brackets the
worst hour's difference in standard errors (the test's bound: 4.8 for the position, 4.4 for
the others); the total foot ratio; the worst hourly foot ratio against its
bound (5 % or 4.4 standard errors of the ratio); the footprints' Pearson r and centroid shift (twice
the binary's seed-to-seed shift in brackets). Needs no ../shared; about 2 minutes on 2 cores.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from docopt import docopt

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from family_cases import FAMILIES, binary_summaries, compare, run_ours  # noqa: E402
from oracle_ensembles import foot_hour_bound  # noqa: E402

OUT = REPO / "docs" / "_static" / "validation" / "family_ensembles.md"
KSYS = {"sigma": 1, "pressure": 2, "height": 3, "hybrid": 4, "wrf": 5}


def row(name: str, m: dict) -> str:
    """One family's line of the table."""
    f, h, noise = FAMILIES[name], m["hourly"], m["noise"]
    s = {k: float(v.max()) for k, v in m["scores"].items()}
    bound = foot_hour_bound(m["foot_hourly_se"])
    worst = int(np.argmax(np.abs(m["foot_hourly"] - 1.0) / bound))
    where = "sea" if f.sea_east_of is not None and f.lon > f.sea_east_of else "land"
    return (f"| {name} | {f.vertical} ({KSYS[f.vertical]}), {f.surface} | "
            f"{f.time[5:].replace('T', ' ')} UTC, {where} | "
            f"{h['pos_km'].max():.1f} [{s['pos_km']:.1f}] | "
            f"{h['height_m'].max():.0f} [{s['height_m']:.1f}] | "
            f"{h['below'].max():.3f} [{s['below']:.1f}] | "
            f"{h['below_half'].max():.3f} [{s['below_half']:.1f}] | "
            f"{m['foot_total']:.3f} | "
            f"{m['foot_hourly'][worst]:.2f} at h{worst + 1} [{1 - bound[worst]:.2f}-"
            f"{1 + bound[worst]:.2f}] | "
            f"{m['pearson']:.3f} | {m['shift_km']:.1f} [{2 * noise['shift_km']:.1f}] |")


def main() -> None:
    """Run our ensembles, compare with the binary's and write the table."""
    args = docopt(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        ours = run_ours(FAMILIES, Path(tmp), workers=int(args["--workers"]))
    lines = ["| family | vertical (KSYS), fields | release | position km | height m | "
             "below mlht | below 0.5 mlht | total foot | worst hourly foot [bound] | "
             "footprint r | centroid shift km |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in FAMILIES:
        lines.append(row(name, compare(name, ours[name], binary_summaries(name))))
        print(lines[-1], flush=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
