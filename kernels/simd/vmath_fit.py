#!/usr/bin/python3
"""kernels/simd/vmath_fit.py — fit the polynomial coefficients of kernels/simd/vmath.c.

Run:  /usr/bin/python3 kernels/simd/vmath_fit.py      (needs numpy only)

The reference functions are Python's math.exp, math.erf and math.erfc. Each
polynomial is fitted for the error that matters to the float result (relative
error of exp, relative error of erf), in double precision, on Chebyshev nodes
of its interval:

  1. a weighted least-squares fit (numpy.linalg.lstsq),
  2. Lawson's reweighting (each node's weight multiplied by its error, a few
     dozen rounds), which moves the least-squares fit towards the minimax one,
  3. the coefficients rounded to float one at a time, highest degree first;
     after each rounding the remaining ones are refitted (steps 1-2) with the
     rounded ones held fixed, so the rounding errors partly cancel.

The output is the C float literals in the order vmath.c uses them, and the max
relative error of each polynomial (float coefficients, evaluated in double) on
a dense grid. Rounding of the float arithmetic itself adds to that in vmath.c;
tests/unit/test_ops_tensor.c measures the result.
"""
import math

import numpy as np

NODES = 3000
LAWSON_ROUNDS = 60


def cheb_nodes(lo, hi, n=NODES):
    k = np.arange(n)
    return 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos((2 * k + 1) * np.pi / (2 * n))


def minimax(A, b):
    """min over c of max |A c - b| (rows already scaled to the error measure)."""
    u = np.full(len(b), 1.0 / len(b))
    c = None
    for _ in range(LAWSON_ROUNDS):
        s = np.sqrt(u)
        c = np.linalg.lstsq(A * s[:, None], b * s, rcond=None)[0]
        e = np.abs(A @ c - b)
        u = u * e
        tot = u.sum()
        if not tot > 0:
            break
        u /= tot
    return c


def fit_rounded(A, b):
    """Fit all columns of A, then round to float32 from the last column back,
    refitting the free ones after each rounding."""
    ncol = A.shape[1]
    fixed = {}
    for j in reversed(range(ncol)):
        free = [i for i in range(ncol) if i not in fixed]
        rhs = b - sum(A[:, i] * v for i, v in fixed.items())
        c = minimax(A[:, free], rhs)
        fixed[j] = float(np.float32(c[free.index(j)]))
    return [fixed[i] for i in range(ncol)]


def lit(v):
    return "%.9gf" % v


# --- exp: exp(r) ~ 1 + r + r^2 P(r), |r| <= ln2/2, P of degree 5 ------------
LN2 = math.log(2.0)
EXP_C1 = 355.0 / 512.0  # ln 2 to 9 bits: n * C1 is exact for |n| < 2^15
EXP_C2 = float(np.float32(LN2 - EXP_C1))
EXP_DEG = 5


def fit_exp():
    h = LN2 / 2
    r = cheb_nodes(-h, h)
    e = np.exp(r)
    # relative error of 1 + r + r^2 P(r): (1 + r + sum c_k r^(k+2) - e) / e
    A = np.stack([r ** (k + 2) / e for k in range(EXP_DEG + 1)], axis=1)
    b = (e - 1 - r) / e
    c = fit_rounded(A, b)
    rr = np.linspace(-h, h, 400001)
    p = np.polynomial.polynomial.polyval(rr, c)
    ref = np.array([math.exp(v) for v in rr])
    err = np.max(np.abs((1 + rr + rr * rr * p) - ref) / ref)
    return c, err


# --- erf below the split: erf(a) ~ a + a P(a^2), P of degree 5 --------------
ERF_SPLIT = 0.927734375
ERF_SMALL_DEG = 5


def fit_erf_small():
    a = cheb_nodes(0.0, ERF_SPLIT)  # no node is 0
    s = a * a
    f = np.array([math.erf(v) for v in a])
    A = np.stack([a * s ** k / f for k in range(ERF_SMALL_DEG + 1)], axis=1)
    b = (f - a) / f
    c = fit_rounded(A, b)
    aa = np.linspace(1e-6, ERF_SPLIT, 400001)
    ref = np.array([math.erf(v) for v in aa])
    got = aa + aa * np.polynomial.polynomial.polyval(aa * aa, c)
    return c, np.max(np.abs(got - ref) / ref)


# --- erf above the split: erf(t) ~ 1 - exp(q(t)), q(t) = t (K(t) - 1) --------
# K of degree 6 (vmath.c's k1..k7); q approximates log(erfc(t)). The fit runs
# to ERF_BIG_HI, a little past 3.92 where erf rounds to 1 in float; the check
# below makes sure exp(q) stays under an ulp of 1 out to the clamp at 6.
ERF_BIG_HI = 4.0
ERF_BIG_DEG = 6
ERF_CLAMP = 6.0


def fit_erf_big():
    t = cheb_nodes(ERF_SPLIT, ERF_BIG_HI)
    fc = np.array([math.erfc(v) for v in t])
    f = 1.0 - fc
    lq = np.log(fc)
    # error of erf ~ erfc(t) * (q_fit - log erfc(t)); relative to erf(t)
    w = fc / f
    A = np.stack([t ** (k + 1) * w for k in range(ERF_BIG_DEG + 1)], axis=1)
    b = (lq + t) * w
    c = fit_rounded(A, b)

    def q(x):
        return x * (np.polynomial.polynomial.polyval(x, c) - 1.0)

    tt = np.linspace(ERF_SPLIT, ERF_BIG_HI, 400001)
    ref = np.array([math.erf(v) for v in tt])
    err = np.max(np.abs((1.0 - np.exp(q(tt))) - ref) / ref)
    # past the fit: 1 - exp(q) must stay within an ulp (2^-24) of erf ~ 1
    tail = np.linspace(ERF_BIG_HI, ERF_CLAMP, 20001)
    tail_ulp = np.max(np.exp(q(tail))) / 2.0 ** -24
    return c, err, tail_ulp


def main():
    ce, ee = fit_exp()
    cs, es = fit_erf_small()
    cb, eb, tail = fit_erf_big()

    print("/* exp: r = x - n C1 - n C2, C1 + C2 ~ ln 2 */")
    print("C1 = %s  C2 = %s  log2(e) = %.17gf" % (lit(EXP_C1), lit(EXP_C2), 1.0 / LN2))
    print("/* exp: P(r), highest degree first (p = P r^2 + r + 1) */")
    for v in reversed(ce):
        print("  " + lit(v))
    print("max rel err (double, dense grid): %.3g = %.3f ulp(2^-24)" % (ee, ee / 2.0 ** -24))

    print("/* erf, |a| <= %.9g: P(a^2), highest degree first (erf = a + a P) */" % ERF_SPLIT)
    for v in reversed(cs):
        print("  " + lit(v))
    print("max rel err (double, dense grid): %.3g = %.3f ulp(2^-24)" % (es, es / 2.0 ** -24))

    print("/* erf, |a| > %.9g: K(t), highest degree first (q = t K - t, erf = 1 - exp q) */"
          % ERF_SPLIT)
    for v in reversed(cb):
        print("  " + lit(v))
    print("max rel err (double, dense grid to %.3g): %.3g = %.3f ulp(2^-24)"
          % (ERF_BIG_HI, eb, eb / 2.0 ** -24))
    print("max exp(q) on [%.3g, %.3g]: %.3f ulp of 1 (must be < 1)"
          % (ERF_BIG_HI, ERF_CLAMP, tail))


if __name__ == "__main__":
    main()
