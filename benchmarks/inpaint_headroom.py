"""How much of the inpainting error is the flow's: flow propagation (`flowfill`) after 1, 2 and 3
rounds, against the same propagation with the flow measured on the clean frames (an oracle no
method has). Same clips and holes as `vidprior bench --task inpaint`.

    python benchmarks/inpaint_headroom.py ../shared/data/clips benchmarks/results   # ~3 minutes
"""

import sys
from pathlib import Path

import numpy as np

from vidprior import metrics
from vidprior.bench import load_clips, make_cases
from vidprior.methods import METHODS, RunOptions
from vidprior.methods.classical import propagate, propagation_settings

COLUMNS = ("telea", "flowfill 1 round", "flowfill 2 rounds", "flowfill 3 rounds", "oracle flow")


def results(case) -> dict[str, np.ndarray]:
    problem = case.problem
    out = {"telea": METHODS["telea"].run(problem, RunOptions(progress=False))}
    for rounds in (1, 2, 3):
        options = RunOptions(progress=False, params={"rounds": rounds})
        out[f"flowfill {rounds} round{'s' if rounds > 1 else ''}"] = METHODS["flowfill"].run(problem, options)
    settings = propagation_settings(METHODS["flowfill"].prepared(RunOptions(progress=False)))
    out["oracle flow"] = propagate(problem.observed, problem.hole, case.reference, None, **settings)
    return out


def main(clips_folder: Path, out_folder: Path) -> None:
    clips = load_clips(clips_folder, 30)
    rows = {}
    for clip in clips:
        case = make_cases("inpaint", clip, clips, [], 2, 0)[0]
        rows[clip.name] = {name: (metrics.psnr(result, case.reference),
                                  metrics.psnr(result, case.reference, region=case.problem.hole))
                           for name, result in results(case).items()}
    lines = ["## inpaint-headroom", "",
             "Flow propagation with the flow it estimates vs. with flow measured on the clean frames",
             "(`python benchmarks/inpaint_headroom.py`); 30 frames per clip, the bench's object holes;",
             "each cell: full-frame PSNR / hole PSNR.", "",
             "| clip | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, row in [*rows.items(), ("mean", {c: tuple(np.mean([r[c][k] for r in rows.values()]) for k in (0, 1))
                                               for c in COLUMNS})]:
        lines.append(f"| {name} | " + " | ".join(f"{row[c][0]:.2f} / {row[c][1]:.2f}" for c in COLUMNS) + " |")
    text = "\n".join(lines) + "\n"
    (out_folder / "inpaint-headroom.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
