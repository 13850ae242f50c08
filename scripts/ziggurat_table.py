"""Layer edges of the 128-layer ziggurat for N(0, 1) in fortran/stilt_random.f90.

Usage:
    python scripts/ziggurat_table.py

Prints the Fortran parameters ``zig_r`` and ``zig_x(0:128)``. The construction (Marsaglia and
Tsang 2000, "The ziggurat method for generating random variables", J. Stat. Softw. 5(8)) on
f(x) = exp(-x^2 / 2): 128 layers of equal area v under f and its tail; layer 0 is the base
strip, width x_0 = v / f(r), with the tail beyond r = x_1; layer k >= 1 spans heights
f(x_k)..f(x_k+1) with width x_k, so x_k+1 = f^-1(f(x_k) + v / x_k); x_128 = 0. r is chosen
by bisection so that the top layer ends at f = 1 (v = r f(r) + the tail area beyond r).
tests/test_random.py checks the table the core uses against these rules.
"""

from __future__ import annotations

import math

N = 128


def _f(x: float) -> float:
    return math.exp(-0.5 * x * x)


def layer_area(r: float) -> float:
    """Area of each layer when the base strip's right edge is r: r f(r) plus the tail."""
    return r * _f(r) + math.sqrt(math.pi / 2.0) * math.erfc(r / math.sqrt(2.0))


def edges(r: float) -> tuple[list[float], float]:
    """Edges x_0..x_127 from r, and how far the top layer's f ends from 1 (0 when r fits)."""
    v = layer_area(r)
    x = [v / _f(r), r]
    for _ in range(2, N):
        arg = v / x[-1] + _f(x[-1])
        if arg >= 1.0:        # r too small: the layers reach f = 1 before the top
            return x, arg - 1.0
        x.append(math.sqrt(-2.0 * math.log(arg)))
    return x, v / x[-1] + _f(x[-1]) - 1.0


def solve_r() -> float:
    """The r for which the 128 layers close at f = 1 (bisection in double precision)."""
    lo, hi = 3.0, 4.0          # top overshoots 1 at lo, falls short at hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        _, miss = edges(mid)
        if miss > 0.0 or len(edges(mid)[0]) < N:
            lo = mid
        else:
            hi = mid
    return hi


def main() -> None:
    """Print the Fortran table."""
    r = solve_r()
    x, miss = edges(r)
    print(f"    ! r = {r!r}, area of each layer {layer_area(r)!r}; top closes to {miss:.1e}")
    print(f"    real(dp), parameter :: zig_r = {r!r}_dp")
    print("    real(dp), parameter :: zig_x(0:128) = [ &")
    values = [f"{v!r}_dp" for v in x] + ["0.0_dp"]
    for i in range(0, len(values), 3):
        sep = ", &" if i + 3 < len(values) else "]"
        print("        " + ", ".join(values[i:i + 3]) + sep)


if __name__ == "__main__":
    main()
