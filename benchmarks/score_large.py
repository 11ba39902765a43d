"""`gantools score` on large files: wall time, rows/s and peak memory (RSS) of the scoring process.

Builds a 1M-row CSV and a Parquet copy (one row group, as pandas writes it) by resampling the rows of the
shared ADBench shuttle set (with a small integer jitter), plus 100k-row files and a folder of mixed CSV and
Parquet files; trains a model with the CLI on the normal rows with a small budget (scoring cost does not
depend on how well it is trained); then runs `gantools score` as a child process on each input and reads
the child's own peak RSS (``os.wait4``). Peak RSS at 100k vs 1M rows shows whether memory stays flat as
the file grows. ``--profile`` adds a cProfile of scoring the 1M-row CSV in process (top functions).

    OMP_NUM_THREADS=1 python benchmarks/score_large.py            # 1M and 100k rows
    python benchmarks/score_large.py --rows 200000 --small-rows 20000 --no-profile   # a quick look
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_data, write_results  # noqa: E402


def gantools_exe() -> list[str]:
    exe = Path(sys.executable).with_name("gantools")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("gantools")
    return [found] if found else [sys.executable, "-m", "gantools_cli.main"]


def run_child(args: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run a command; return its wall seconds, its CPU seconds (user + system), its own peak RSS in MiB (not
    the benchmark's) and its output. CPU seconds are steadier than wall time on a machine shared with others."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{output}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output  # ru_maxrss: KiB on Linux


def build_frame(X: np.ndarray, n: int, rng: np.random.Generator) -> pd.DataFrame:
    rows = X[rng.integers(0, len(X), n)].astype(np.int64)
    jitter = rng.integers(-1, 2, rows.shape) * (rng.random(rows.shape) < 0.1)  # +-1 on one cell in ten
    return pd.DataFrame(rows + jitter, columns=[f"f{i}" for i in range(X.shape[1])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-rows", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=2, help="training passes over the normal rows")
    parser.add_argument("--workdir", type=Path, default=None, help="where the files go (default: a temp folder)")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--name", default="score_large")
    args = parser.parse_args()

    data = np.load(shared_data() / "adbench" / "32_shuttle.npz", allow_pickle=False)
    X, y = data["X"], data["y"]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="score_large_"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    rng = np.random.default_rng(0)

    normal = pd.DataFrame(X[y == 0].astype(np.int64), columns=[f"f{i}" for i in range(X.shape[1])])
    normal.to_csv(work / "train.csv", index=False)
    model = work / "model"
    print(f"training on {len(normal):,} normal rows ({args.epochs} epochs) ...", flush=True)
    train_s, _, train_rss, _ = run_child(
        [
            *gantools_exe(),
            "train",
            str(work / "train.csv"),
            "--model",
            str(model),
            "--epochs",
            str(args.epochs),
            "--quiet",
        ],
        env,
    )

    print("writing input files ...", flush=True)
    inputs: dict[str, tuple[Path, int]] = {}
    for n, tag in ((args.small_rows, "small"), (args.rows, "large")):
        frame = build_frame(X, n, rng)
        frame.to_csv(work / f"{tag}.csv", index=False)
        frame.to_parquet(work / f"{tag}.parquet", index=False)  # pandas/pyarrow: one row group up to ~1M rows
        inputs[f"csv {n:,}"] = (work / f"{tag}.csv", n)
        inputs[f"parquet {n:,}"] = (work / f"{tag}.parquet", n)
    folder = work / "mixed"
    folder.mkdir(exist_ok=True)
    parts = 4
    for i in range(parts):
        frame = build_frame(X, args.rows // parts, rng)
        if i % 2:
            frame.to_parquet(folder / f"part{i}.parquet", index=False)
        else:
            frame.to_csv(folder / f"part{i}.csv", index=False)
    inputs[f"folder {parts} files (csv+parquet) {args.rows // parts * parts:,}"] = (folder, args.rows // parts * parts)
    tiny = build_frame(X, 1000, rng)
    tiny.to_csv(work / "tiny.csv", index=False)
    inputs["csv 1,000 (start-up)"] = (work / "tiny.csv", 1000)

    runs = []
    for case, (path, n) in inputs.items():
        for out_suffix in (".csv", ".parquet"):
            out = work / f"scores{out_suffix}"
            print(f"scoring {case} -> {out.name} ...", flush=True)
            command = [*gantools_exe(), "score", str(path), "--out", str(out), "--model", str(model)]
            load = os.getloadavg()[0]
            wall, cpu, rss, _ = run_child(command, env)
            written = len(pd.read_parquet(out, columns=["row"])) if out_suffix == ".parquet" else None
            if written is not None and written != n:
                raise SystemExit(f"{case}: {written} rows written, expected {n}")
            runs.append(
                {
                    "input": case,
                    "output": out_suffix,
                    "rows": n,
                    "seconds": wall,
                    "rows_per_s": n / wall,
                    "cpu_s": cpu,
                    "rows_per_cpu_s": n / cpu,
                    "peak_rss_mib": rss,
                    "load_avg_1min": load,
                }
            )
            print(f"  {wall:.1f} s ({cpu:.1f} s CPU), {n / wall:,.0f} rows/s, peak RSS {rss:,.0f} MiB", flush=True)
            out.unlink()
    table = pd.DataFrame(runs)
    summary = table.copy()
    for column in ("seconds", "cpu_s", "load_avg_1min"):
        summary[column] = summary[column].round(1)
    for column in ("rows_per_s", "rows_per_cpu_s"):
        summary[column] = summary[column].round(0).astype(int)
    summary["peak_rss_mib"] = summary["peak_rss_mib"].round(0).astype(int)

    notes = [
        f"Model: `gantools train` on the {len(normal):,} normal rows of ADBench shuttle (9 integer columns), "
        f"{args.epochs} epochs, default network size ({train_s:.0f} s, peak RSS {train_rss:,.0f} MiB). "
        f"Inputs: rows resampled from all {len(X):,} shuttle rows with +-1 jitter on one cell in ten. "
        "Each figure is one `gantools score FILE --out scores.csv|.parquet` child process, default chunk size "
        f"(100,000 rows), OMP_NUM_THREADS={env['OMP_NUM_THREADS']}; peak RSS is the child's own (os.wait4). "
        "The 1,000-row run is the start-up floor (Python, torch, the model). `cpu_s` is the child's user + "
        "system CPU time and `load_avg_1min` the machine's load when the run started: on a shared machine "
        "rows per CPU-second are the steadier figure.",
    ]
    if args.profile:
        notes.append(profile(work / "large.csv", model, work / "profiled.csv"))
    path = write_results(args.name, table, summary, "\n\n".join(notes) + "\n")
    print(summary.to_string(index=False))
    print(f"wrote {path}")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


def profile(path: Path, model: Path, out: Path, top: int = 25) -> str:
    """cProfile of scoring ``path`` in this process; the top functions by own time and by cumulative time."""
    import torch

    from gantools import workflows

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    print(f"profiling the scoring of {path.name} ...", flush=True)
    prof = cProfile.Profile()
    start, start_cpu = time.perf_counter(), time.process_time()
    prof.enable()
    report = workflows.score([path], model, out, device="cpu")
    prof.disable()
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    text = []
    for key in ("tottime", "cumulative"):
        buffer = io.StringIO()
        stats = pstats.Stats(prof, stream=buffer).strip_dirs().sort_stats(key)
        stats.print_stats(top)
        lines = buffer.getvalue().splitlines()
        start_at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
        text.append(f"Top {top} by {key}:\n\n```\n" + "\n".join(lines[start_at:]).rstrip() + "\n```")
    print("\n\n".join(text))
    head = (
        f"cProfile of `workflows.score` on {path.name} ({report.rows:,} rows; {wall:.1f} s wall, {cpu:.1f} s CPU, "
        "in process, under the profiler):"
    )
    return head + "\n\n" + "\n\n".join(text)


if __name__ == "__main__":
    main()
