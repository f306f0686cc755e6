"""Gradient-domain fusion: fill a region so that its differences between neighbouring pixels are
the given ones and it meets the known pixels around it without a step (Pérez et al. 2003, as FGVC).

Each region pixel i with value u_i and each 4-neighbour j give one wish, u_i - u_j = g_ij. Known
neighbours are fixed; a small pull ``weight`` towards a guess v_i keeps parts of the region that
touch no known pixel in place (screened Poisson). The least-squares solution solves, for each i:

    (n_i + weight) u_i - sum_{j in region} u_j = sum_j g_ij + sum_{j known} u_j + weight v_i

with n_i the neighbours counted (region or known; neighbours left out are ignored). A wish given as
NaN falls back to the difference of the guesses (or of the guess and the known neighbour): a plain copy
across that edge.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

STEPS = ((0, 1), (0, -1), (1, 0), (-1, 0))  # (dy, dx) to the four neighbours


def fuse(image: np.ndarray, region: np.ndarray, wishes: np.ndarray, guess: np.ndarray, usable: np.ndarray | None = None,
         weight: float = 1e-3) -> np.ndarray:
    """Solve the region of ``image`` (H, W, C) float from pixel differences.

    region: (H, W) bool, the pixels to solve; wishes: (N, 4, C) float, for the region's pixels in
    ``np.nonzero(region)`` order, the wished u_i - u_j towards each neighbour of `STEPS` (NaN: the guesses'
    difference); guess: (N, C)
    the pull's target; usable: (H, W) bool, the non-region pixels whose values are known (default: all).
    Returns a float64 copy of ``image`` with the region solved.

    >>> img = np.zeros((1, 5, 1)); img[0, 4] = 4
    >>> region = np.array([[False, True, True, True, False]])
    >>> wishes = np.zeros((3, 4, 1)); wishes[:, 1] = 1; wishes[:, 0] = -1  # a ramp of slope 1
    >>> fuse(img, region, wishes, np.zeros((3, 1)), weight=0)[0, :, 0].round(6).tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0]
    """
    height, width = region.shape
    ys, xs = np.nonzero(region)
    n = len(ys)
    out = np.asarray(image, np.float64).copy()
    if n == 0:
        return out
    usable = np.ones_like(region) if usable is None else usable
    index = np.full(region.shape, -1)
    index[ys, xs] = np.arange(n)
    diagonal = np.full(n, float(weight))
    rhs = weight * np.asarray(guess, np.float64).copy()
    rows, cols = [], []
    for k, (dy, dx) in enumerate(STEPS):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        ny, nx = np.where(inside, ny, 0), np.where(inside, nx, 0)
        other = np.where(inside, index[ny, nx], -1)
        fixed = inside & (other < 0) & usable[ny, nx]
        linked = other >= 0
        counted = fixed | linked
        diagonal += counted
        wish = wishes[:, k]
        missing = np.isnan(wish).any(axis=1)
        if missing.any():
            beside = np.where(linked[:, None], guess[np.maximum(other, 0)], out[ny, nx])
            wish = np.where(missing[:, None], guess - beside, wish)
        rhs += np.where(counted[:, None], wish, 0.0)
        rhs[fixed] += out[ny[fixed], nx[fixed]]
        rows.append(np.nonzero(linked)[0])
        cols.append(other[linked])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    matrix = sp.csc_matrix((np.concatenate([diagonal, -np.ones(len(rows))]),
                            (np.concatenate([np.arange(n), rows]), np.concatenate([np.arange(n), cols]))), shape=(n, n))
    out[ys, xs] = splu(matrix).solve(rhs)
    return out
