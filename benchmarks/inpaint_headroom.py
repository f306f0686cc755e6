"""What each part of the inpainting buys: the propagation of before issue 16 and today's (`flowfill`), each
with the flow completed by a smooth fill, by the flow-completion network, and with the flow measured
on the clean frames (an oracle no method has); today's propagation also without gradient-domain fusion
and without its camera-motion fallbacks. Same clips and holes as `vidprior bench --task inpaint`.

    python benchmarks/inpaint_headroom.py ../shared/data/clips benchmarks/results   # ~3 minutes

The old propagation (kept here only for this comparison) copied each hole pixel from the nearest of
up to 10 frames on each side along the DIS flow estimated directly between the two frames, smooth-filled
inside the grown hole, with two rounds; the network completes flows between adjacent frames only, so
it has no old-propagation column.
"""

import sys
from pathlib import Path

import cv2
import numpy as np

from vidprior import flow, metrics, propagation
from vidprior.bench import load_clips, make_cases
from vidprior.flowcomp.weights import shipped_weights
from vidprior.methods import METHODS, RunOptions
from vidprior.problems import Problem

OLD_REACH, OLD_GROW, RADIUS = 10, 4, 5.0


def telea(frames: np.ndarray, holes: np.ndarray) -> np.ndarray:
    return np.stack([cv2.inpaint(f, m.astype(np.uint8), RADIUS, cv2.INPAINT_TELEA) if m.any() else f
                     for f, m in zip(frames, holes)])


def old_propagate(frames: np.ndarray, holes: np.ndarray, source: np.ndarray, smooth_in: np.ndarray | None
                  ) -> np.ndarray:
    """One round of the old flowfill: flow between frame t and each frame s within `OLD_REACH`, estimated on
    ``source`` (smooth-filled inside ``smooth_in`` when given); each hole pixel from the nearest s that
    knows it (flows passing the forward-backward check first, then any); Telea for the rest."""
    count, height, width = holes.shape
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))

    def completed(a: int, b: int) -> np.ndarray:
        estimate = flow.dis_flow(source[a], source[b])
        return flow.fill_smooth(estimate, smooth_in[a]) if smooth_in is not None else estimate

    out = frames.copy()
    for t in range(count):
        missing = holes[t].copy()
        order = sorted((s for s in range(max(0, t - OLD_REACH), min(count, t + OLD_REACH + 1)) if s != t),
                       key=lambda s: (abs(s - t), s))
        loose = []
        for s in order:
            if not missing.any():
                break
            forward, backward = completed(t, s), completed(s, t)
            px, py = xs + forward[..., 0], ys + forward[..., 1]
            inside = (px >= 0) & (px <= width - 1) & (py >= 0) & (py <= height - 1)
            touched = cv2.remap(holes[s].astype(np.float32), px, py, cv2.INTER_LINEAR, borderValue=1.0)
            known = inside & (touched == 0)
            values = cv2.remap(frames[s], px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            take = missing & known & flow.consistent(forward, backward)
            out[t][take] = values[take]
            missing &= ~take
            loose.append((known, values))
        for known, values in loose:
            take = missing & known
            out[t][take] = values[take]
            missing &= ~take
        out[t] = telea(out[t][None], missing[None])[0]
    return out


def old_flowfill(frames: np.ndarray, holes: np.ndarray, clean: np.ndarray | None = None) -> np.ndarray:
    """The old flowfill (two rounds), or with ``clean`` frames one round along their flow (the oracle)."""
    if clean is not None:
        return old_propagate(frames, holes, clean, None)
    kernel = np.ones((2 * OLD_GROW + 1,) * 2, np.uint8)
    grown = np.stack([cv2.dilate(m.astype(np.uint8), kernel).astype(bool) for m in holes])
    first = old_propagate(frames, holes, telea(frames, holes), grown)
    return old_propagate(frames, holes, first, None)


def new_oracle(frames: np.ndarray, holes: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, float]:
    """Today's propagation along the flow of the clean frames (one round), Telea where nothing sees."""
    settings = {s.name: s.default for s in METHODS["flowfill"].settings}
    out, unseen, _ = propagation.propagate(frames, holes, propagation.ClipFlows.estimate(clean),
                                        reach=settings["neighbours"], anchor=settings["anchor"], far=settings["far"])
    return telea(out, unseen), float(unseen.sum() / max(holes.sum(), 1))


def results(problem: Problem, clean: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    frames, holes = problem.observed, problem.hole
    out = {"telea": (telea(frames, holes), float("nan")),
           "old: smooth": (old_flowfill(frames, holes), float("nan")),
           "old: oracle": (old_flowfill(frames, holes, clean), float("nan"))}
    variants = {"new: smooth": {}, "new: no fusion": {"anchor": 1000.0},
                "new: no fallbacks": {"camera": False, "far": 0}}
    if shipped_weights().exists():
        variants["new: learned"] = {"flows": "learned"}
    for name, params in variants.items():
        options = RunOptions(progress=False, params=params)
        out[name] = (METHODS["flowfill"].run(problem, options), options.stats["unseen"])
    out["new: oracle"] = new_oracle(frames, holes, clean)
    return out


def main(clips_folder: Path, out_folder: Path) -> None:
    clips = load_clips(clips_folder, 30)
    rows: dict[str, dict[str, tuple[float, float, float]]] = {}
    for clip in clips:
        case = make_cases("inpaint", clip, clips, [], 2, 0)[0]
        rows[clip.name] = {name: (metrics.psnr(result, case.reference),
                                  metrics.psnr(result, case.reference, region=case.problem.hole), unseen)
                           for name, (result, unseen) in results(case.problem, case.reference).items()}
        print(clip.name, {k: tuple(round(x, 2) for x in v) for k, v in rows[clip.name].items()}, file=sys.stderr)
    columns = list(next(iter(rows.values())))
    mean = {c: tuple(float(np.mean([r[c][k] for r in rows.values()])) for k in range(3)) for c in columns}
    lines = ["## inpaint-headroom", "",
             "What each part of the inpainting buys (`python benchmarks/inpaint_headroom.py`): the old",
             "propagation (before issue 16) and today's `flowfill`, each with the flow smooth-filled in the hole,",
             "completed by the network (`learned`) or measured on the clean frames (`oracle`); today's also with",
             "plain copies instead of gradient-domain fusion (`no fusion`: anchor 1000) and without the camera",
             "and far-frame fallbacks. 30 frames per clip, the bench's object holes; each cell: full-frame PSNR /",
             "hole PSNR. Last table: the share of hole pixels that no frame sees (filled by Telea).", "",
             "| clip | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in [*rows.items(), ("mean", mean)]:
        lines.append(f"| {name} | " + " | ".join(f"{row[c][0]:.2f} / {row[c][1]:.2f}" for c in columns) + " |")
    shares = [c for c in columns if c.startswith("new")]
    lines += ["", "| clip | " + " | ".join(shares) + " |", "|---" * (len(shares) + 1) + "|"]
    for name, row in [*rows.items(), ("mean", mean)]:
        lines.append(f"| {name} | " + " | ".join(f"{row[c][2]:.1%}" for c in shares) + " |")
    text = "\n".join(lines) + "\n"
    (out_folder / "inpaint-headroom.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
