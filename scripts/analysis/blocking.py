"""Block-jackknife error bars for estimators of a correlated time series.

The series (n frames) is cut into B contiguous blocks (numpy.array_split: sizes differ by at most one frame).
theta_k = the estimator on all frames except block k; with theta_bar the mean of the theta_k,

    sigma^2 = (B - 1) / B * sum_k (theta_k - theta_bar)^2

Blocks much longer than the correlation time make the blocks independent, so sigma is the standard error of
the estimator on the whole series, including for non-linear estimators such as a covariance divided by a mean
volume and temperature. With blocks shorter than the correlation time sigma is too small: use fewer blocks
(B = 10 to 20 for a run of >= 100 correlation times is a reasonable default).
"""

import numpy as np

from cli import AnalysisError


def jackknife(estimator, n, blocks):
    """estimator(index array) -> array; returns (estimate on all n frames, jackknife standard error)."""
    if blocks < 2:
        raise AnalysisError("--blocks must be at least 2 (got %d)" % blocks)
    if n < blocks:
        raise AnalysisError("%d frames are too few for %d blocks (--blocks at most the number of frames)" % (n, blocks))
    full = np.asarray(estimator(np.arange(n)), dtype=float)
    parts = np.array_split(np.arange(n), blocks)
    loo = np.array([estimator(np.concatenate(parts[:k] + parts[k + 1:])) for k in range(blocks)], dtype=float)
    err = np.sqrt((blocks - 1) / blocks * np.sum((loo - loo.mean(axis=0)) ** 2, axis=0))
    return full, err
