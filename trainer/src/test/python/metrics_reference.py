#!/usr/bin/env python3
"""Numpy references for FrechetDistance and PrecisionRecall (MetricsTest.java).

  metrics_reference.py fid A.npy B.npy   -> prints "FID METHOD": scipy.linalg.sqrtm of S1 S2 when
                                            scipy imports, else the eigenvalues of S1 S2 (numpy.linalg.eigvals)
  metrics_reference.py pr REAL.npy FAKE.npy K -> prints "PRECISION RECALL" (brute-force k-NN balls)
"""
import sys

import numpy as np


def fid(a, b):
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    try:
        import scipy.linalg
        covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
        covmean = covmean.real
        tr = np.trace(covmean)
        method = "scipy.sqrtm"
    except ImportError:
        ev = np.linalg.eigvals(s1.dot(s2)).real
        tr = np.sqrt(np.clip(ev, 0, None)).sum()
        method = "numpy.eigvals"
    return ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr, method


def radii(x, k):
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    return np.sort(d, axis=1)[:, k]


def inside(q, centres, r):
    d = np.sqrt(((q[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
    return (d <= r[None, :]).any(1).mean()


def main():
    what = sys.argv[1]
    a = np.load(sys.argv[2]).astype(np.float64)
    b = np.load(sys.argv[3]).astype(np.float64)
    if what == "fid":
        v, method = fid(a, b)
        print(repr(float(v)), method)
    else:
        k = int(sys.argv[4])
        print(repr(float(inside(b, a, radii(a, k)))), repr(float(inside(a, b, radii(b, k)))))


if __name__ == "__main__":
    main()
