"""``Compiled.profile()``: where the time of a compiled program goes, and how far each
step is from what the machine can do.

Each step of the plan is timed over ``repeat`` calls (the executor's ``timings``), and
its operations and bytes come from ``cost.py``. Dividing gives GFLOP/s and GB/s;
operations per byte (the *arithmetic intensity*) places the step on a roofline: a step
can run at most at ``min(peak, intensity * bandwidth)``. The backend measures the two
ceilings (on the CPU: BLAS sgemm GFLOP/s and a STREAM triad's GB/s, cached on disk by
``backends/numba_cpu/ceilings.py``); a step below the *ridge* ``peak / bandwidth`` is
memory-bound, above it compute-bound, and ``pct_roof`` is the share of its own ceiling
it reached.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from ..lax.control_flow import cond_p, scan_p, while_p
from ..lax.convolution import conv_general_dilated_p, conv_grad_filter_p, conv_grad_input_p
from ..lax.dots import dot_general_p
from ..lax.windowed import (
    reduce_window_max_p,
    reduce_window_min_p,
    reduce_window_sum_p,
    select_and_gather_add_p,
    select_and_scatter_add_p,
)
from .cost import flop_rules, step_cost

CATEGORIES = {
    conv_general_dilated_p: "conv", conv_grad_input_p: "conv", conv_grad_filter_p: "conv",
    dot_general_p: "matmul",
    reduce_window_max_p: "pool", reduce_window_min_p: "pool", reduce_window_sum_p: "pool",
    select_and_scatter_add_p: "pool", select_and_gather_add_p: "pool",
    scan_p: "control flow", while_p: "control flow", cond_p: "control flow",
}


def category(step) -> str:
    """``conv``, ``matmul``, ``pool``, ``elementwise`` (fused loops), ``reduction``,
    ``control flow`` or ``data movement`` (shape ops, gathers, casts...)."""
    if step.fused:
        return "elementwise"
    prim = step.eqns[0].primitive
    if prim in CATEGORIES:
        return CATEGORIES[prim]
    if prim in flop_rules:  # the reductions
        return "reduction"
    return "elementwise" if prim.elementwise else "data movement"


def _ratio(a, b):
    return None if a is None or b is None or not b else a / b


def step_row(k: int, step, seconds: float, total_s: float, ceilings: dict | None) -> dict:
    """One row of the profile: what step ``k`` is, its cost and how fast it ran."""
    flops, moved = step_cost(step)
    names = ", ".join(e.primitive.name for e in step.eqns)
    last = step.eqns[-1].outvars
    intensity = _ratio(flops, moved) if flops else (0.0 if flops == 0 else None)
    row = {
        "step": k, "category": category(step),
        "what": f"fused {names}" if step.fused else names,
        "out": last[0].aval.str_short() if last else "",
        "time_s": seconds, "share": _ratio(seconds, total_s) or 0.0,
        "flops": flops, "bytes": moved,
        "gflops": None if flops is None else flops / seconds / 1e9 if seconds else None,
        "gbs": moved / seconds / 1e9 if seconds else None,
        "intensity": intensity,
        "bound": None, "roof_gflops": None, "pct_roof": None, "pct_peak": None,
        "pct_bandwidth": None,
    }
    if ceilings is not None:
        peak, bw = ceilings["sgemm_gflops"], ceilings["bandwidth_gbs"]
        if row["gbs"] is not None:
            row["pct_bandwidth"] = 100 * row["gbs"] / bw
        if intensity:  # a step that computes something: place it on the roofline
            row["bound"] = "compute" if intensity >= peak / bw else "memory"
            row["roof_gflops"] = min(peak, intensity * bw)
            if row["gflops"] is not None:
                row["pct_roof"] = 100 * row["gflops"] / row["roof_gflops"]
                row["pct_peak"] = 100 * row["gflops"] / peak
    return row


@dataclass
class Profile:
    """The profile of one compiled program: ``rows`` (one dict per step, in program
    order), the machine's ``ceilings`` (None on a backend without them) and the
    device ``counters`` of a call; ``str()`` is the table ``profile()`` prints."""

    name: str
    repeat: int
    rows: list[dict]
    ceilings: dict | None = None
    counters: dict | None = None
    total_s: float = field(init=False)

    def __post_init__(self):
        self.total_s = sum(r["time_s"] for r in self.rows)

    def totals(self) -> tuple[int | None, int]:
        """FLOPs (None if a step's are unknown) and bytes of the whole program."""
        flops = [r["flops"] for r in self.rows]
        return None if None in flops else sum(flops), sum(r["bytes"] for r in self.rows)

    def as_dict(self) -> dict:
        """Everything, as plain data; ``"text"`` is the printed table."""
        flops, moved = self.totals()
        return {"name": self.name, "repeat": self.repeat, "total_s": self.total_s,
                "flops": flops, "bytes": moved,
                "ceilings": self.ceilings, "counters": self.counters,
                "rows": [dict(r) for r in self.rows], "text": str(self)}

    def header(self) -> list[str]:
        lines = [f"# jit({self.name}) profile: {self.total_s * 1e3:.3f} ms per call "
                 f"(sum of each step's median over {self.repeat} runs; slowest first)"]
        if self.counters is not None:
            c = self.counters
            lines.append(f"# per call: {c['launches']} kernel launches, {c['allocations']} "
                         f"device allocations, {c['h2d_bytes']} B host->device, "
                         f"{c['d2h_bytes']} B device->host")
        if self.ceilings is not None:
            peak, bw = self.ceilings["sgemm_gflops"], self.ceilings["bandwidth_gbs"]
            lines.append(f"# ceilings: sgemm {peak:.1f} GFLOP/s, memory (triad) {bw:.1f} GB/s"
                         f", ridge {peak / bw:.1f} FLOP/B ({self.ceilings['path']})")
        flops, moved = self.totals()
        if flops is not None and self.total_s:
            lines.append(f"# total: {flops / 1e6:.1f} MFLOP, {moved / 1e6:.1f} MB, "
                         f"{flops / self.total_s / 1e9:.1f} GFLOP/s overall")
        return lines

    def __str__(self) -> str:
        lines = self.header()
        lines.append(f"{'ms':>9} {'%':>5} {'MFLOP':>8} {'MB':>7} {'GFLOP/s':>8} {'GB/s':>6} "
                     f"{'FLOP/B':>6} {'bound':>7} {'%roof':>5}  step")
        for r in sorted(self.rows, key=lambda r: -r["time_s"]):
            lines.append(
                f"{r['time_s'] * 1e3:9.3f} {100 * r['share']:5.1f} {_num(r['flops'], 1e6, 8)} "
                f"{r['bytes'] / 1e6:7.3f} {_num(r['gflops'], 1, 8)} {_num(r['gbs'], 1, 6)} "
                f"{_num(r['intensity'], 1, 6)} {r['bound'] or '-':>7} "
                f"{_num(r['pct_roof'], 1, 5, '.0f')}  step {r['step']} {r['what'][:50]} "
                f"-> {r['out']}")
        return "\n".join(lines)


def _num(x, scale: float, width: int, fmt: str = ".2f") -> str:
    if x is None:
        return f"{'-':>{width}}"
    v = x / scale
    if fmt == ".2f" and abs(v) >= 100:
        fmt = ".0f" if abs(v) >= 1000 else ".1f"
    return f"{v:{width}{fmt}}"


def profile_program(name: str, steps, run, leaves, repeat: int, backend,
                    counters=None) -> Profile:
    """Runs ``run`` once to warm up, then ``repeat`` times with per-step timings; each
    step's time is its median over the runs (on a shared machine a run is sometimes
    interrupted: a median shrugs that off where a mean would not)."""
    run(*leaves)
    runs = []
    for _ in range(max(1, repeat)):
        times = [0.0] * len(steps)
        run(*leaves, timings=times)
        runs.append(times)
    per_step = [statistics.median(ts) for ts in zip(*runs, strict=True)] if steps else []
    total = sum(per_step)
    measure = getattr(backend, "ceilings", None)
    ceilings = measure() if measure is not None else None
    rows = [step_row(k, s, t, total, ceilings)
            for k, (s, t) in enumerate(zip(steps, per_step, strict=True))]
    return Profile(name, len(runs), rows, ceilings, counters() if counters else None)
