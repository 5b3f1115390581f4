"""Side-by-side benchmarks: ``python -m benchmarks`` (or ``make bench``).

1. ``mlcourse.train.fit`` against a hand-written PyTorch loop: the same MLP
   (2 -> 256 -> 256 -> 10), the same data, the same initial weights, the same
   batch order and number of epochs, in one process, the two alternated so
   that drifts in machine speed hit both. Reported per device and batch size:
   the median wall times, their ratio fit / hand (budget <= 1.05), examples per
   second (epochs x n / time) for each loop, and the largest difference between
   the two final models' weights (0 on a CPU: the same work was done). A final
   table puts the devices side by side.
2. ``import mlcourse`` in a fresh interpreter (budget <= 0.3 s), and whether
   it imported torch (it must not).

Runs on the CPU, and on CUDA too when a GPU is visible (``--device all``, the
default). Every loop runs entirely on the device it is given (model and data),
and CUDA is synchronised before the clock stops. ``--strict`` exits with status
1 when a budget is missed. Results go to ``benchmarks/results/latest.json``, or
to ``--results DIR`` (or ``$MLCOURSE_BENCH_RESULTS``).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RATIO_BUDGET = 1.05
IMPORT_BUDGET_S = 0.3
RESULTS = Path(__file__).resolve().parent / "results"
RESULTS_ENV = "MLCOURSE_BENCH_RESULTS"
SIZES = (2, 256, 256, 10)
LR = 0.05


def epoch_order(n: int, seed: int) -> np.ndarray:
    """Row order of one epoch: ``iterate_minibatches(..., shuffle=True, seed=seed)``'s.

    ``fit`` shuffles epoch ``e`` with ``seed + e`` through ``iterate_minibatches``,
    which visits ``np.random.default_rng(seed).permutation(n)`` in consecutive
    slices of ``batch_size``; slicing this order the same way gives its batches.
    """
    return np.random.default_rng(seed).permutation(n)


def on_device(actual: Any, wanted: Any) -> bool:
    """Whether a tensor on ``actual`` is on ``wanted`` ("cuda" means any GPU, "cuda:1" one)."""
    import torch

    actual, wanted = torch.device(actual), torch.device(wanted)
    return actual.type == wanted.type and wanted.index in (None, actual.index)


def _sync(device: Any) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously); a no-op elsewhere."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def hand_loop(model, X_np, y_np, *, epochs, batch_size, lr, seed, device):
    """The loop a careful PyTorch user writes by hand; the batches of iterate_minibatches.

    Model and data are moved to ``device`` (a name or a ``torch.device``) once;
    the model is returned there, trained.
    """
    import torch
    import torch.nn.functional as F

    device = torch.device(device)
    model = model.to(device)
    X = torch.as_tensor(X_np, dtype=torch.float32, device=device)
    y = torch.as_tensor(y_np, dtype=torch.int64, device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    n = len(X)
    for epoch in range(epochs):
        order = torch.from_numpy(epoch_order(n, seed + epoch)).to(device)
        for start in range(0, n, batch_size):
            index = order[start:start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(X[index]), y[index])
            loss.backward()
            optimizer.step()
    _sync(device)
    return model


def fit_loop(model, X_np, y_np, *, epochs, batch_size, lr, seed, device):
    """``mlcourse.train.fit`` with the hand loop's optimizer; the model is returned on ``device``."""
    import torch

    from mlcourse.losses import cross_entropy
    from mlcourse.train import fit

    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    fit(model, cross_entropy, optimizer, (X_np, y_np), epochs=epochs, batch_size=batch_size,
        device=device, seed=seed, progress=False)
    return model


def _timed(loop, initial, X, y, device, options: dict) -> tuple[float, Any]:
    """Wall time of one run of ``loop`` on a fresh copy of ``initial``, device work included."""
    model = copy.deepcopy(initial)
    _sync(device)
    start = time.perf_counter()
    model = loop(model, X, y, **options)
    _sync(device)  # fit and the hand loop sync themselves; the clock must not trust them to
    return time.perf_counter() - start, model


def bench_fit(device: Any, *, n: int, epochs: int, batch_size: int, repeats: int) -> dict:
    """Time ``fit`` against ``hand_loop`` on ``device``; a dict of the results.

    Keys: device, n, epochs, batch_size, repeats, steps, examples (epochs x n),
    fit_s and hand_s (medians), fit_times_s and hand_times_s (every run), ratio
    (fit / hand), fit_examples_per_s, hand_examples_per_s, max_weight_diff and
    threads (torch's CPU threads).
    """
    import torch

    from mlcourse.data import make_classification
    from mlcourse.models import TorchMLP

    device = torch.device(device)
    X, y = make_classification(n, kind="blobs", n_classes=SIZES[-1], seed=0)
    initial = TorchMLP(list(SIZES), seed=0)
    options = dict(epochs=epochs, batch_size=batch_size, lr=LR, seed=0, device=device)
    loops = {"fit": fit_loop, "hand": hand_loop}
    times: dict[str, list[float]] = {"fit": [], "hand": []}
    finals: dict[str, Any] = {}
    for loop in loops.values():  # warm-up: allocator, kernels, lazy imports
        _timed(loop, initial, X, y, device, {**options, "epochs": 1})
    for r in range(repeats):
        order = ["fit", "hand"] if r % 2 == 0 else ["hand", "fit"]
        for name in order:
            seconds, finals[name] = _timed(loops[name], initial, X, y, device, options)
            times[name].append(seconds)
    with torch.no_grad():
        for name, model in finals.items():
            where = {p.device for p in model.parameters()}
            if not all(on_device(d, device) for d in where):
                raise RuntimeError(f"{name} left the model on {where}, not on {device}")
        diff = max(float((a.cpu() - b.cpu()).abs().max()) for a, b in
                   zip(finals["fit"].parameters(), finals["hand"].parameters(), strict=True))
    fit_s, hand_s = statistics.median(times["fit"]), statistics.median(times["hand"])
    examples = epochs * n
    return {"device": str(device), "n": n, "epochs": epochs, "batch_size": batch_size,
            "repeats": repeats, "steps": epochs * -(-n // batch_size), "examples": examples,
            "fit_s": fit_s, "hand_s": hand_s,
            "fit_times_s": times["fit"], "hand_times_s": times["hand"],
            "ratio": fit_s / hand_s,
            "fit_examples_per_s": examples / fit_s, "hand_examples_per_s": examples / hand_s,
            "max_weight_diff": diff, "threads": torch.get_num_threads()}


def bench_import(repeats: int = 7) -> dict:
    code = ("import time, sys; t = time.perf_counter(); import mlcourse; "
            "print(time.perf_counter() - t, 'torch' in sys.modules)")
    times, torch_loaded = [], False
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()
        times.append(float(out[0]))
        torch_loaded |= out[1] == "True"
    return {"import_s": statistics.median(times), "torch_imported": torch_loaded,
            "repeats": repeats}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _devices(parser: argparse.ArgumentParser, requested: str) -> tuple[list[str], list[str]]:
    """The devices to measure, and notes on those skipped; argparse errors for bad ones."""
    import torch

    name = requested.strip().lower()
    if name == "all":
        if torch.cuda.is_available():
            return ["cpu", "cuda"], []
        return ["cpu"], ["cuda: not measured (no CUDA GPU is visible here)"]
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        parser.error(f"--device {requested}: use cpu, cuda, cuda:N, mps or all")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            parser.error(f"--device {requested}: no CUDA GPU is visible here "
                         "(torch.cuda.is_available() is False); use --device cpu or all")
        if device.index is not None and device.index >= count:
            parser.error(f"--device {requested}: only {count} CUDA GPU(s) are visible, "
                         "numbered from 0")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            parser.error(f"--device {requested}: Apple's MPS backend is not available here")
    return [str(device)], []


def _rate(per_s: float) -> str:
    return f"{per_s:,.0f}" if math.isfinite(per_s) else "-"


def report_run(r: dict) -> str:
    """The lines printed for one device and batch size."""
    within = r["ratio"] <= RATIO_BUDGET
    threads = f" ({r['threads']} threads)" if r["device"] == "cpu" else ""
    lines = [
        f"fit vs hand-written loop on {r['device']}{threads}: MLP "
        f"{'-'.join(map(str, SIZES))}, {r['n']} examples, batch {r['batch_size']}, "
        f"{r['epochs']} epochs ({r['steps']} steps), median of {r['repeats']}",
    ]
    for name in ("fit", "hand"):
        seconds = r[f"{name}_s"]
        lines.append(f"  {name:<4} {seconds * 1000:8.1f} ms   ({seconds / r['steps'] * 1e6:.0f} "
                     f"us/step, {_rate(r[f'{name}_examples_per_s'])} examples/s)")
    lines.append(f"  ratio fit/hand = {r['ratio']:.3f} (budget {RATIO_BUDGET})  -> "
                 f"{'OK' if within else 'OVER BUDGET'};  max |weight difference| = "
                 f"{r['max_weight_diff']:.1e}")
    return "\n".join(lines)


def report_table(runs: list[dict]) -> str:
    """One row per device (and batch size): the devices side by side."""
    header = (f"{'device':<8} {'batch':>6} {'fit ms':>9} {'hand ms':>9} {'fit/hand':>9} "
              f"{'fit examples/s':>15} {'hand examples/s':>16} {'max |dw|':>9}  budget")
    lines = [f"summary: median wall times, examples = epochs x n; ratio budget {RATIO_BUDGET}",
             header, "-" * len(header)]
    for r in runs:
        lines.append(
            f"{r['device']:<8} {r['batch_size']:>6} {r['fit_s'] * 1000:>9.1f} "
            f"{r['hand_s'] * 1000:>9.1f} {r['ratio']:>9.3f} "
            f"{_rate(r['fit_examples_per_s']):>15} {_rate(r['hand_examples_per_s']):>16} "
            f"{r['max_weight_diff']:>9.1e}  {'OK' if r['ratio'] <= RATIO_BUDGET else 'OVER'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="all",
                        help="cpu, cuda, cuda:N, mps, or all (cpu, plus cuda when present); "
                             "default all")
    parser.add_argument("--n", type=_positive_int, default=8192,
                        help="training examples (8192)")
    parser.add_argument("--epochs", type=_positive_int, default=8, help="epochs per run (8)")
    parser.add_argument("--batch-size", type=_positive_int, nargs="+", default=[128],
                        metavar="B", help="batch size(s), e.g. --batch-size 128 1024 (128)")
    parser.add_argument("--repeats", type=_positive_int, default=9,
                        help="timed runs of each loop (9)")
    parser.add_argument("--import-repeats", type=_positive_int, default=7,
                        help="fresh interpreters timed importing mlcourse (7)")
    parser.add_argument("--threads", type=_positive_int, default=None,
                        help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--results", type=Path, default=None, metavar="DIR",
                        help=f"where latest.json goes (default: ${RESULTS_ENV}, else "
                             "benchmarks/results)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    args = parser.parse_args(argv)
    results_dir = args.results or Path(os.environ.get(RESULTS_ENV) or RESULTS)

    import torch

    devices, skipped = _devices(parser, args.device)  # before any work: bad flags fail fast
    imports = bench_import(args.import_repeats)
    ok = imports["import_s"] <= IMPORT_BUDGET_S and not imports["torch_imported"]
    print(f"import mlcourse: {imports['import_s'] * 1000:.1f} ms (budget "
          f"{IMPORT_BUDGET_S * 1000:.0f} ms); torch imported: {imports['torch_imported']}"
          f"  -> {'OK' if ok else 'OVER BUDGET'}")

    threads = torch.get_num_threads()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    runs: list[dict] = []
    try:
        for device in devices:
            for batch_size in args.batch_size:
                r = bench_fit(device, n=args.n, epochs=args.epochs, batch_size=batch_size,
                              repeats=args.repeats)
                runs.append(r)
                ok &= r["ratio"] <= RATIO_BUDGET
                print(report_run(r), flush=True)
    finally:
        torch.set_num_threads(threads)
    print()
    print(report_table(runs))
    for note in skipped:
        print(note)

    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / "latest.json"
    path.write_text(json.dumps({"import": imports, "fit": runs, "not_measured": skipped},
                               indent=2))
    print(f"results written to {path}")
    return 1 if (args.strict and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
