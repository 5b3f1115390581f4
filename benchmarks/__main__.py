"""Side-by-side benchmarks: ``python -m benchmarks`` (or ``make bench``).

1. ``mlcourse.train.fit`` against a hand-written PyTorch loop: the same MLP
   (2 -> 256 -> 256 -> 10), the same data, the same initial weights, the same
   batch order and number of epochs, in one process, the two alternated so
   that drifts in machine speed hit both. Reported: the median wall times and
   their ratio, fit / hand (budget <= 1.05), and the largest difference between
   the two final models' weights (0 on a CPU: the same work was done).
2. ``import mlcourse`` in a fresh interpreter (budget <= 0.3 s), and whether
   it imported torch (it must not).

Runs on the CPU, and on CUDA too when a GPU is visible (``--device``).
``--strict`` exits with status 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RATIO_BUDGET = 1.05
IMPORT_BUDGET_S = 0.3
RESULTS = Path(__file__).resolve().parent / "results"


def hand_loop(model, X_np, y_np, *, epochs, batch_size, lr, seed, device):
    """The loop a careful PyTorch user writes by hand; the batches of iterate_minibatches."""
    import torch
    import torch.nn.functional as F

    X = torch.as_tensor(X_np, dtype=torch.float32, device=device)
    y = torch.as_tensor(y_np, dtype=torch.int64, device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    n = len(X)
    for epoch in range(epochs):
        order = torch.from_numpy(np.random.default_rng(seed + epoch).permutation(n)).to(device)
        for start in range(0, n, batch_size):
            index = order[start:start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(X[index]), y[index])
            loss.backward()
            optimizer.step()
    if X.device.type == "cuda":
        torch.cuda.synchronize()
    return model


def fit_loop(model, X_np, y_np, *, epochs, batch_size, lr, seed, device):
    import torch

    from mlcourse.losses import cross_entropy
    from mlcourse.train import fit

    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    fit(model, cross_entropy, optimizer, (X_np, y_np), epochs=epochs, batch_size=batch_size,
        device=device, seed=seed, progress=False)
    return model


def bench_fit(device: str, *, n: int, epochs: int, batch_size: int, repeats: int) -> dict:
    import torch

    from mlcourse.data import make_classification
    from mlcourse.models import TorchMLP

    X, y = make_classification(n, kind="blobs", n_classes=10, seed=0)
    initial = TorchMLP([2, 256, 256, 10], seed=0)
    options = dict(epochs=epochs, batch_size=batch_size, lr=0.05, seed=0, device=device)
    loops = {"fit": fit_loop, "hand": hand_loop}
    times: dict[str, list[float]] = {"fit": [], "hand": []}
    finals = {}
    for loop in loops.values():  # warm-up: allocator, kernels, lazy imports
        loop(copy.deepcopy(initial), X, y, **{**options, "epochs": 1})
    for r in range(repeats):
        order = ["fit", "hand"] if r % 2 == 0 else ["hand", "fit"]
        for name in order:
            model = copy.deepcopy(initial)
            start = time.perf_counter()
            finals[name] = loops[name](model, X, y, **options)
            times[name].append(time.perf_counter() - start)
    with torch.no_grad():
        diff = max(float((a.cpu() - b.cpu()).abs().max()) for a, b in
                   zip(finals["fit"].parameters(), finals["hand"].parameters(), strict=True))
    fit_s, hand_s = statistics.median(times["fit"]), statistics.median(times["hand"])
    return {"device": device, "n": n, "epochs": epochs, "batch_size": batch_size,
            "repeats": repeats, "fit_s": fit_s, "hand_s": hand_s, "ratio": fit_s / hand_s,
            "max_weight_diff": diff, "threads": torch.get_num_threads(),
            "steps": epochs * -(-n // batch_size)}


def bench_import(repeats: int = 7) -> dict:
    code = ("import time, sys; t = time.perf_counter(); import mlcourse; "
            "print(time.perf_counter() - t, 'torch' in sys.modules)")
    times, torch_loaded = [], False
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()
        times.append(float(out[0]))
        torch_loaded |= out[1] == "True"
    return {"import_s": statistics.median(times), "torch_imported": torch_loaded}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="all",
                        help="cpu, cuda, or all (cpu, plus cuda when present); default all")
    parser.add_argument("--n", type=int, default=8192, help="training examples (8192)")
    parser.add_argument("--epochs", type=int, default=8, help="epochs per run (8)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (128)")
    parser.add_argument("--repeats", type=int, default=9, help="timed runs of each loop (9)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    args = parser.parse_args(argv)

    imports = bench_import()
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)

    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        if args.device == "cuda":
            parser.error("--device cuda: no CUDA GPU is visible here")
        devices.remove("cuda")

    ok = imports["import_s"] <= IMPORT_BUDGET_S and not imports["torch_imported"]
    print(f"import mlcourse: {imports['import_s'] * 1000:.1f} ms (budget "
          f"{IMPORT_BUDGET_S * 1000:.0f} ms); torch imported: {imports['torch_imported']}"
          f"  -> {'OK' if ok else 'OVER BUDGET'}")
    results = {"import": imports, "fit": []}
    for device in devices:
        r = bench_fit(device, n=args.n, epochs=args.epochs, batch_size=args.batch_size,
                      repeats=args.repeats)
        results["fit"].append(r)
        within = r["ratio"] <= RATIO_BUDGET
        ok &= within
        print(f"fit vs hand-written loop on {device} ({r['threads']} threads): MLP 2-256-256-10, "
              f"{r['n']} examples, batch {r['batch_size']}, {r['epochs']} epochs "
              f"({r['steps']} steps), median of {r['repeats']}")
        print(f"  fit  {r['fit_s'] * 1000:8.1f} ms   ({r['fit_s'] / r['steps'] * 1e6:.0f} us/step)")
        print(f"  hand {r['hand_s'] * 1000:8.1f} ms   ({r['hand_s'] / r['steps'] * 1e6:.0f} us/step)")
        print(f"  ratio fit/hand = {r['ratio']:.3f} (budget {RATIO_BUDGET})  -> "
              f"{'OK' if within else 'OVER BUDGET'};  max |weight difference| = "
              f"{r['max_weight_diff']:.1e}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    return 1 if (args.strict and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
