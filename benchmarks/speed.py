"""Speed, side by side in one run: gantools' training, generation and scoring next to CTGAN, PyOD's GAN
detectors (AnoGAN, ALAD), IsolationForest and KNN, each with the quality it reached.

Parts (every figure on this machine, in this run; compare the ratios):

1. Training, with default settings, through the library (``TabularGAN().fit``; the model's ``history_``
   gives GAN seconds, steps and rows/s) on three sets: banknote genuine notes (class 0 of the bundled
   banknote data, one class: the anomaly use), ADBench shuttle normals (one class) and Adult (label
   ``income``, two classes: the augmentation use). Quality next to the fit time: for the one-class sets,
   AUROC on held-out rows (``anomaly.py``'s protocol: fit on 60% of the normal rows, seeded split; test on
   the other 40% plus every anomaly); for Adult (stratified 70/30 split), TSTR (HistGradientBoosting
   trained on as many synthetic rows as training rows, balanced accuracy on the real 30%) and
   real-vs-synthetic detection AUC (HistGradientBoosting, 5-fold CV; 0.5 = indistinguishable), both from
   ``gantools.evaluation`` and applied alike to every generator.
2. The peers on the same rows: CTGAN (``epochs=300``, from the separate environment ``.venv-bench``
   through ``_ctgan_speed.py``: pandas < 3) on all three sets: fit seconds, rows x epochs / fit seconds,
   in-memory ``sample()`` rows/s, and on Adult TSTR and detection AUC; PyOD's AnoGAN and ALAD (PyOD's
   defaults), scikit-learn's IsolationForest and PyOD's KNN on the one-class sets: fit seconds, AUROC,
   in-memory scoring rows/s. Each peer runs in its own process, stopped after ``--peer-timeout`` seconds
   (CTGAN: ``--ctgan-timeout``); AnoGAN (a latent code optimised per scored row) is fitted on at most
   ``--anogan-max-rows`` rows and tested on at most ``--anogan-max-test-rows``, ALAD fitted on at most
   ``--alad-max-rows`` (seeded subsamples; ALAD's 200 epochs at batch 32 on shuttle's 27k rows would take
   hours on a CPU).
3. Generation: ``gantools augment --n 1000000 --out FILE.csv`` (the real CLI, a child process, with the
   Adult model of part 1) rows/s written, vs CTGAN's in-memory ``sample(1_000_000)``.
4. Scoring end to end: ``gantools score FILE.csv --out scores.csv`` (the shuttle model of part 1) on
   1,000,000 rows resampled from shuttle (``score_large.py``'s files): rows/s including reading and writing,
   and the child's own peak RSS (``os.wait4``), vs IsolationForest's in-memory ``decision_function``.
5. Scaling: Adult resampled with replacement to 10k, 100k and 1M rows: ``gantools train --label income``
   (defaults; steps reported) and ``gantools score`` (the part-1 Adult model) on each, with wall time and
   peak RSS of each child process (scoring memory should stay flat).

    python benchmarks/speed.py                     # the full run (several hours on 2 CPU cores)
    python benchmarks/speed.py --quick             # every part on tiny sizes, a smoke run (minutes)
    python benchmarks/speed.py --max-scale-rows 100000 --skip-ctgan
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import _has_tabulate, one_class_split, shared_data, write_results  # noqa: E402
from score_large import build_frame, gantools_exe  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_CTGAN_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
ONE_CLASS_SETS = ["banknote_genuine", "shuttle"]
PEERS = ["IsolationForest", "KNN", "ALAD", "AnoGAN"]
ADULT_LABEL = "income"
CONTAMINATION = 0.05

# Settings that --quick changes (a value given on the command line wins over both).
FULL = {
    "gan_steps": None,  # None: gantools' defaults
    "ctgan_epochs": 300,
    "peer_epochs": None,  # None: PyOD's defaults (AnoGAN 500, ALAD 200)
    "peer_timeout": 3600.0,
    "ctgan_timeout": 7200.0,
    "gen_rows": 1_000_000,
    "score_rows": 1_000_000,
    "scale_sizes": [10_000, 100_000, 1_000_000],
    "max_scale_rows": 1_000_000,
    "throughput_rows": 50_000,
    "anogan_max_rows": 500,
    "anogan_max_test_rows": 1000,
    "alad_max_rows": 2500,
    "one_class_max_rows": None,
    "adult_max_train_rows": None,
}
QUICK = {
    "gan_steps": 100,
    "ctgan_epochs": 2,
    "peer_epochs": 2,
    "peer_timeout": 120.0,
    "ctgan_timeout": 300.0,
    "gen_rows": 20_000,
    "score_rows": 20_000,
    "scale_sizes": [2_000, 5_000],
    "max_scale_rows": 2_000,  # --quick trains on the smallest size only (both are scored)
    "throughput_rows": 5_000,
    "anogan_max_rows": 100,
    "anogan_max_test_rows": 150,
    "alad_max_rows": 1000,
    "one_class_max_rows": 2_000,
    "adult_max_train_rows": 3_000,
}


# ------------------------------------------------------------------------------------------------ helpers
@dataclass
class Child:
    rc: int
    wall: float
    cpu: float  # user + system seconds of the child
    rss_mib: float  # the child's own peak RSS
    stdout: str
    stderr: str
    timed_out: bool


# A small process between this one and the measured command: a child forked from this (large) process would
# report this process's RSS as its own peak (Linux carries the high-water mark over fork and exec), so the
# command is started by a fresh Python of a few MiB that waits for it and writes its wall and CPU seconds and
# peak RSS (os.wait4) to the file named first.
_LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as f:
    json.dump([os.waitstatus_to_exitcode(status), wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss], f)
"""


def run_child(args: list[Any], env: dict[str, str], timeout: float | None = None) -> Child:
    """Run a command to its end (or kill it after ``timeout`` s); its wall and CPU seconds and its own peak RSS."""
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.TemporaryDirectory() as folder,
    ):
        figures = Path(folder) / "figures.json"
        command = [sys.executable, "-c", _LAUNCHER, str(figures), *[str(a) for a in args]]
        start = time.perf_counter()
        # its own process group, so that a timeout stops the command as well as the launcher
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True, start_new_session=True)
        timed_out = False
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:  # a timeout, or this process interrupted: stop the command with its launcher
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        wall = time.perf_counter() - start
        rc, cpu, rss_kib = proc.returncode, float("nan"), float("nan")
        if figures.exists():
            rc, wall, cpu, rss_kib = json.loads(figures.read_text())
        out.seek(0)
        err.seek(0)
        return Child(rc, wall, cpu, rss_kib / 1024, out.read(), err.read(), timed_out)  # ru_maxrss: KiB on Linux


def child_error(child: Child, what: str, timeout: float | None = None) -> str:
    if child.timed_out:
        return f"{what}: stopped after {timeout:.0f} s (timeout)"
    tail = (child.stderr.strip() or child.stdout.strip()).splitlines()[-3:]
    return f"{what}: exit {child.rc}: " + " | ".join(tail)


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if abs(v) <= 1:  # AUROC, accuracies, ratios
            return f"{v:.4f}"
        if v.is_integer() and abs(v) < 1e15:  # counts
            return f"{int(v):,}"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.3f}"
    return str(value)


def formatted(df: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text (rows/s with thousands separators, scores to 4 decimals, missing as blank)."""
    return df.astype(object).apply(lambda col: col.map(fmt)).reset_index(drop=True)


def md_table(df: pd.DataFrame) -> str:
    """A Markdown table of text cells (no tabulate needed)."""
    cells = formatted(df)
    lines = ["| " + " | ".join(str(c) for c in cells.columns) + " |", "|" + "---|" * len(cells.columns)]
    lines += ["| " + " | ".join(str(v).replace("|", "/") for v in row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


def ratio(a: Any, b: Any) -> float:
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        return float("nan")
    return a / b if np.isfinite(a) and np.isfinite(b) and b > 0 else float("nan")


# ------------------------------------------------------------------------------------------------- data
@dataclass
class OneClass:
    name: str
    columns: list[str]
    fit: np.ndarray  # raw values, the fitted normal rows
    test: np.ndarray  # the other normal rows, then every anomaly
    truth: np.ndarray  # 1 = anomaly
    all_rows: np.ndarray  # every row of the set (for the large scoring file)
    note: str = ""

    def frame(self, rows: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(rows, columns=self.columns)


def load_one_class(name: str, seed: int, max_rows: int | None) -> OneClass:
    """``anomaly.py``'s split (its seeded permutation of the normal rows, 60% fitted) of one set, raw values."""
    if name == "banknote_genuine":
        from gantools.datasets import load_banknote

        df = load_banknote()
        X, y = df.drop(columns="class").to_numpy(np.float64), df["class"].to_numpy()
        columns = [str(c) for c in df.columns if c != "class"]
    else:  # shuttle: integer columns, named as score_large.py's files name them
        data = np.load(shared_data() / "adbench" / "32_shuttle.npz", allow_pickle=False)
        X, y = data["X"].astype(np.int64), data["y"].astype(int)
        columns = [f"f{i}" for i in range(X.shape[1])]
    normal, anomalies = X[y == 0], X[y == 1]
    fit, test, truth = one_class_split(normal, anomalies, np.random.default_rng(seed))
    note = ""
    if max_rows is not None and len(fit) > max_rows:
        fit = fit[np.random.default_rng(seed + 1).choice(len(fit), max_rows, replace=False)]
        note = f"fit rows subsampled to {max_rows:,}"
    return OneClass(name, columns, fit, test, truth, X, note)


def load_adult(seed: int, max_train_rows: int | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, str]:
    """Adult: every row, and a stratified 70/30 split (the 70% optionally subsampled, stratified)."""
    from sklearn.model_selection import train_test_split

    from gantools.data import read_table

    full = read_table(shared_data() / "adult" / "adult.csv")
    train, test = train_test_split(full, test_size=0.3, stratify=full[ADULT_LABEL], random_state=seed)
    note = ""
    if max_train_rows is not None and len(train) > max_train_rows:
        train, _ = train_test_split(train, train_size=max_train_rows, stratify=train[ADULT_LABEL], random_state=seed)
        note = f"training rows subsampled to {max_train_rows:,}"
    return full, train.reset_index(drop=True), test.reset_index(drop=True), note


# --------------------------------------------------------------------------------------------- gantools
def fit_gantools(frame: pd.DataFrame, label: str | None, args: argparse.Namespace):
    """Default ``TabularGAN`` fitted through the library; the model and its timings."""
    from gantools import TabularGAN, TrainConfig

    steps = args.gan_steps
    sizes = {} if steps is None else {"target_steps": steps, "encoder_steps": max(50, steps // 2)}
    config = TrainConfig(seed=args.seed, device=args.device, **sizes)
    started, cpu = time.perf_counter(), time.process_time()
    model = TabularGAN(config).fit(frame, label=label)
    fit_seconds, fit_cpu = time.perf_counter() - started, time.process_time() - cpu
    hist = dict(getattr(model, "history_", None) or {})
    gan_steps, generators = hist.get("gan_steps"), hist.get("density_generators_trained", 1)
    n_train = hist.get("n_train_rows", len(frame))
    batch = min(getattr(getattr(model, "config_", None), "batch_size", 256), n_train)
    info = {
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": fit_cpu,
        "train_seconds": hist.get("train_seconds"),
        "gan_seconds": hist.get("gan_seconds"),
        "steps": gan_steps,
        "generators": generators,
        "train_rows": n_train,
        "train_rows_per_s": hist.get("gan_rows_per_second"),  # GAN loop: steps x batch / GAN seconds
        # the whole fit (preprocessing, every generator, encoder, calibration): rows seen by the critics / fit s
        "fit_rows_per_s": gan_steps * (generators or 1) * batch / fit_seconds if gan_steps else None,
        "device": hist.get("device"),
    }
    return model, info


def gantools_scores(model, frame: pd.DataFrame) -> np.ndarray:
    try:
        out = model.score(frame, all_parts=False)
    except TypeError:  # an older or newer signature
        out = model.score(frame)
    return out["score"].to_numpy()


def scoring_rate(score, rows: Any, target: int) -> float:
    """Rows/s of one call of ``score`` on ``rows`` repeated to ``target`` rows (array or DataFrame)."""
    reps = max(1, math.ceil(target / len(rows)))
    if isinstance(rows, pd.DataFrame):
        data = pd.concat([rows] * reps, ignore_index=True).iloc[: max(target, len(rows))]
    else:
        data = np.resize(rows, (max(target, len(rows)), rows.shape[1]))
    started = time.perf_counter()
    score(data)
    return len(data) / max(time.perf_counter() - started, 1e-9)


def adult_quality(train: pd.DataFrame, test: pd.DataFrame, synthetic: pd.DataFrame, seed: int) -> dict[str, Any]:
    """TSTR/TRTR (HistGradientBoosting, balanced accuracy) and real-vs-synthetic detection AUC."""
    from gantools.data.schema import infer_schema
    from gantools.evaluation.detection import detection_auc
    from gantools.evaluation.encoding import TableEncoder, column_kinds
    from gantools.evaluation.utility import tstr_trtr

    schema = infer_schema(train, ADULT_LABEL, {}, "adult")
    encoder = TableEncoder(column_kinds(schema, with_label=False), train)
    features = [c for c in train.columns if c != ADULT_LABEL]
    synthetic = synthetic[train.columns]
    utility = tstr_trtr(synthetic, test, ADULT_LABEL, encoder, real_train=train, seed=seed)
    hgb = utility["classifiers"].get("HistGradientBoosting", {})
    detection = detection_auc(train[features], synthetic[features], encoder, seed=seed)
    return {
        "tstr_bacc": (hgb.get("TSTR") or {}).get("balanced_accuracy"),
        "trtr_bacc": (hgb.get("TRTR") or {}).get("balanced_accuracy"),
        "detection_auc": detection.get("auc"),
    }


# ------------------------------------------------------------------------------------------------ peers
def _peer_run(method: str, fit: np.ndarray, test: np.ndarray, truth: np.ndarray, opts: dict) -> dict:
    import torch
    from sklearn.metrics import roc_auc_score

    torch.set_num_threads(opts["threads"])
    torch.manual_seed(opts["seed"])
    epochs = {} if opts["epochs"] is None else {"epochs": opts["epochs"]}
    if method == "IsolationForest":
        from sklearn.ensemble import IsolationForest

        det = IsolationForest(random_state=opts["seed"])
        score = lambda a: -det.decision_function(a)  # noqa: E731 - higher = more anomalous
    elif method == "KNN":
        from pyod.models.knn import KNN

        det = KNN(contamination=CONTAMINATION)
        score = det.decision_function
    elif method == "ALAD":
        from pyod.models.alad import ALAD

        det = ALAD(contamination=CONTAMINATION, device=opts["torch_device"], **epochs)
        score = det.decision_function
    else:
        from pyod.models.anogan import AnoGAN

        det = AnoGAN(contamination=CONTAMINATION, device=opts["torch_device"], **epochs)
        score = det.decision_function
    started, cpu = time.perf_counter(), time.process_time()
    det.fit(fit)
    fit_seconds, fit_cpu = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    scores = score(test)
    test_seconds = time.perf_counter() - started
    rate = len(test) / test_seconds if method == "AnoGAN" else scoring_rate(score, test, opts["throughput_rows"])
    return {"fit_seconds": fit_seconds, "fit_cpu_seconds": fit_cpu, "auroc": float(roc_auc_score(truth, scores)),
            "score_rows_per_s": rate}  # fmt: skip


def _peer_child(conn, method: str, fit: np.ndarray, test: np.ndarray, truth: np.ndarray, opts: dict) -> None:
    try:
        conn.send(_peer_run(method, fit, test, truth, opts))
    except BaseException as error:  # noqa: BLE001 - sent back and reported
        conn.send({"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()})
    finally:
        conn.close()


def peer_rows(method: str, fit: np.ndarray, test: np.ndarray, truth: np.ndarray, args: argparse.Namespace):
    """The rows a slow peer gets: ALAD at most ``--alad-max-rows`` fit rows, AnoGAN at most
    ``--anogan-max-rows`` fit rows and ``--anogan-max-test-rows`` test rows (seeded; test rows stratified)."""
    from sklearn.model_selection import train_test_split

    max_fit = {"ALAD": args.alad_max_rows, "AnoGAN": args.anogan_max_rows}.get(method)
    max_test = args.anogan_max_test_rows if method == "AnoGAN" else None
    cuts = []
    if max_fit is not None and len(fit) > max_fit:
        fit = fit[np.random.default_rng(args.seed + 2).choice(len(fit), max_fit, replace=False)]
        cuts.append(f"fitted on {max_fit:,} of the fit rows")
    if max_test is not None and len(test) > max_test:
        keep, _ = train_test_split(np.arange(len(test)), train_size=max_test, stratify=truth, random_state=args.seed)
        test, truth = test[keep], truth[keep]
        cuts.append(f"tested on {max_test:,} of the test rows (stratified)")
    return fit, test, truth, "; ".join(cuts)


def run_peer(method: str, fit: np.ndarray, test: np.ndarray, truth: np.ndarray, opts: dict, timeout: float) -> dict:
    """One peer in a fresh (spawned) process, stopped after ``timeout`` seconds."""
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_peer_child, args=(send, method, fit, test, truth, opts), daemon=True)
    proc.start()
    send.close()
    try:
        if receive.poll(timeout):
            result = receive.recv()
        else:
            result = {"error": f"stopped after the --peer-timeout of {timeout:.0f} s"}
    except EOFError:
        result = {"error": f"the process ended without a result (exit code {proc.exitcode})"}
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return result


def run_ctgan(python: Path, frame: pd.DataFrame, discrete: list[str], args: argparse.Namespace, env: dict[str, str],
              work: Path, tag: str, synthetic_n: int, sample_rows: int) -> dict:  # fmt: skip
    """CTGAN in its own environment; its JSON figures (``synthetic``: the sampled rows, when asked)."""
    train_csv, synthetic_csv = work / f"ctgan_{tag}_train.csv", work / f"ctgan_{tag}_synthetic.csv"
    frame.to_csv(train_csv, index=False)
    command = [python, HERE / "_ctgan_speed.py", "--train", train_csv, "--discrete", ",".join(discrete),
               "--epochs", args.ctgan_epochs, "--threads", args.threads, "--device", args.device,
               "--seed", args.seed, "--synthetic-n", synthetic_n, "--synthetic-out", synthetic_csv,
               "--sample-rows", sample_rows]  # fmt: skip
    child = run_child(command, env, args.ctgan_timeout)
    train_csv.unlink(missing_ok=True)
    if child.rc != 0 or child.timed_out:
        return {"error": child_error(child, "CTGAN", args.ctgan_timeout)}
    lines = [line for line in child.stdout.splitlines() if line.strip().startswith("{")]
    if not lines:
        return {"error": "CTGAN: no JSON on standard output: " + child.stdout[-300:]}
    info = json.loads(lines[-1])
    info["child_peak_rss_mib"] = child.rss_mib
    if synthetic_n > 0 and synthetic_csv.exists():
        info["synthetic"] = pd.read_csv(synthetic_csv)
        synthetic_csv.unlink()
    return info


# ------------------------------------------------------------------------------------------------- main
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes for a smoke run of every part")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all cores)")
    parser.add_argument("--device", default="auto", help="auto (GPU when there is one), cpu or cuda")
    parser.add_argument("--name", default="speed", help="results file name")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-ctgan", action="store_true")
    parser.add_argument(
        "--ctgan-python",
        type=Path,
        default=DEFAULT_CTGAN_PYTHON if DEFAULT_CTGAN_PYTHON.exists() else None,
        help="Python of the environment with ctgan (default: .venv-bench/bin/python when it exists)",
    )
    parser.add_argument("--ctgan-epochs", type=int, help="CTGAN epochs (default 300; --quick: 2)")
    parser.add_argument("--ctgan-timeout", type=float, help="seconds before a CTGAN run is stopped (default 7200)")
    parser.add_argument("--peer-epochs", type=int, help="AnoGAN and ALAD epochs (default: PyOD's; --quick: 2)")
    parser.add_argument("--peer-timeout", type=float, help="seconds before a PyOD/sklearn peer is stopped (3600)")
    parser.add_argument("--gan-steps", type=int, help="gantools GAN steps (default: gantools' own; --quick: 100)")
    parser.add_argument("--gen-rows", type=int, help="rows generated by gantools augment and CTGAN (1,000,000)")
    parser.add_argument("--ctgan-sample-rows", type=int, help="rows of CTGAN's timed sample() (default --gen-rows)")
    parser.add_argument("--score-rows", type=int, help="rows of the large file for gantools score (1,000,000)")
    parser.add_argument("--scale-sizes", type=int, nargs="+", help="Adult resampled sizes (10k 100k 1M)")
    parser.add_argument("--max-scale-rows", type=int, help="train only on sizes up to this (1M; --quick: 2,000)")
    parser.add_argument("--throughput-rows", type=int, help="rows of the in-memory scoring calls (50,000)")
    parser.add_argument("--anogan-max-rows", type=int, help="AnoGAN's fit rows at most (500)")
    parser.add_argument("--anogan-max-test-rows", type=int, help="AnoGAN's test rows at most (1,000)")
    parser.add_argument("--alad-max-rows", type=int, help="ALAD's fit rows at most (2,500, as in anomaly.py)")
    parser.add_argument("--one-class-max-rows", type=int, help="subsample the one-class fit rows (default: all)")
    parser.add_argument("--adult-max-train-rows", type=int, help="subsample Adult's training split (default: all)")
    parser.add_argument("--workdir", type=Path, help="where the files go (kept; default: a temporary folder)")
    args = parser.parse_args()
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main() -> None:
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the spawned peer processes
    gpu = args.device != "cpu" and torch.cuda.is_available()
    peer_opts = {"threads": args.threads, "seed": args.seed, "epochs": args.peer_epochs,
                 "torch_device": "cuda" if gpu else "cpu", "throughput_rows": args.throughput_rows}  # fmt: skip
    ctgan_python = None if args.skip_ctgan else args.ctgan_python
    notes: list[str] = []
    if args.skip_ctgan:
        notes.append("CTGAN skipped (--skip-ctgan).")
    elif ctgan_python is None or not Path(ctgan_python).exists():
        notes.append(
            f"CTGAN skipped: no Python at {ctgan_python or DEFAULT_CTGAN_PYTHON} (create it with `python3 -m venv "
            ".venv-bench && .venv-bench/bin/pip install ctgan`, or give --ctgan-python)."
        )
        ctgan_python = None
    for note in notes:
        print(note, flush=True)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="speed_"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows: list[dict] = []
    errors: list[str] = []

    def record(part: str, dataset: str, method: str, **values: Any) -> dict:
        row = {"part": part, "dataset": dataset, "method": method, **values}
        rows.append(row)
        shown = ", ".join(f"{k} {fmt(v)}" for k, v in values.items() if k not in ("note",) and fmt(v) != "")
        print(f"[{time.perf_counter() - started:6.0f}s] {part:10s} {dataset:16s} {method:16s} {shown}"
              + (f" ({values['note']})" if values.get("note") else ""), flush=True)  # fmt: skip
        return row

    def failed(part: str, dataset: str, method: str, message: str) -> None:
        errors.append(f"{part} {dataset} {method}: {message}")
        record(part, dataset, method, note=f"FAILED: {message}")

    def record_cli(part: str, dataset: str, method: str, command: list[Any], out: Path, note: str) -> None:
        """Run a gantools command that writes ``out`` and record its rows written per second of wall time."""
        child = run_child(command, env)
        if child.rc != 0:
            failed(part, dataset, method, child_error(child, method))
            return
        written = count_lines(out) - 1
        record(part, dataset, method, rows=written, seconds=child.wall, cpu_seconds=child.cpu,
               rows_per_s=written / child.wall, peak_rss_mib=child.rss_mib, note=note)  # fmt: skip
        out.unlink()

    from sklearn.metrics import roc_auc_score

    # ---- parts 1 and 2 on the one-class sets
    models: dict[str, Path] = {}
    one_class: dict[str, OneClass] = {}
    for name in ONE_CLASS_SETS:
        data = load_one_class(name, args.seed, args.one_class_max_rows)
        one_class[name] = data
        base = {"rows": len(data.fit), "test_rows": len(data.test)}
        try:
            model, info = fit_gantools(data.frame(data.fit), None, args)
            test_frame = data.frame(data.test)
            auroc = roc_auc_score(data.truth, gantools_scores(model, test_frame))
            rate = scoring_rate(lambda f, m=model: gantools_scores(m, f), test_frame, args.throughput_rows)
            record("fit", name, "gantools", **base, **info, auroc=auroc, score_rows_per_s=rate, note=data.note)
            models[name] = model.save(work / f"model_{name}")
            del model
        except Exception as error:  # noqa: BLE001 - reported, and the run goes on
            traceback.print_exc()
            failed("fit", name, "gantools", f"{type(error).__name__}: {error}")
        if ctgan_python is not None:
            info = run_ctgan(ctgan_python, data.frame(data.fit), [], args, env, work, name, 0,
                             min(args.gen_rows, 100_000))  # fmt: skip
            if "error" in info:
                failed("fit", name, "CTGAN", info["error"])
            else:
                record("fit", name, "CTGAN", **base, fit_seconds=info["fit_seconds"],
                       fit_cpu_seconds=info["fit_cpu_seconds"], steps=info["steps"], train_rows=info["rows"],
                       train_rows_per_s=info["train_rows_per_s"], fit_rows_per_s=info["train_rows_per_s"],
                       sample_rows_per_s=info.get("sample_rows_per_s"), device=info["device"],
                       note=f"epochs {info['epochs']}, batch {info['batch_size']}")  # fmt: skip
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(data.fit)  # as anomaly.py: the peers see standardised rows
        fit_s, test_s = scaler.transform(data.fit), scaler.transform(data.test)
        for method in PEERS:
            fit_rows, test_rows, truth, note = peer_rows(method, fit_s, test_s, data.truth, args)
            note = "; ".join(n for n in (data.note, note) if n)
            result = run_peer(method, fit_rows, test_rows, truth, peer_opts, args.peer_timeout)
            if "error" in result:
                failed("fit", name, method, result["error"])
                continue
            record("fit", name, method, rows=len(fit_rows), test_rows=len(test_rows), **result, note=note)

    # ---- parts 1 and 2 on Adult
    adult_full, train, test, adult_note = load_adult(args.seed, args.adult_max_train_rows)
    base = {"rows": len(train), "test_rows": len(test)}
    adult_model = None
    try:
        model, info = fit_gantools(train, ADULT_LABEL, args)
        t0 = time.perf_counter()
        synthetic = model.sample(len(train), seed=args.seed)
        sample_s = time.perf_counter() - t0
        quality = adult_quality(train, test, synthetic, args.seed)
        record("fit", "adult", "gantools", **base, **info, **quality, sample_rows_per_s=len(train) / sample_s,
               note=adult_note)  # fmt: skip
        adult_model = model.save(work / "model_adult")
        models["adult"] = adult_model
    except Exception as error:  # noqa: BLE001 - reported, and the run goes on
        traceback.print_exc()
        failed("fit", "adult", "gantools", f"{type(error).__name__}: {error}")
        model = None
    ctgan_sample = None
    if ctgan_python is not None:
        cats = [c for c in train.columns if c != ADULT_LABEL and not pd.api.types.is_numeric_dtype(train[c])]
        sample_rows = args.ctgan_sample_rows or args.gen_rows  # CTGAN's sampling rate, measured on this many
        info = run_ctgan(ctgan_python, train, [*cats, ADULT_LABEL], args, env, work, "adult", len(train), sample_rows)
        if "error" in info:
            failed("fit", "adult", "CTGAN", info["error"])
        else:
            synthetic = info.pop("synthetic")
            for column in train.columns:  # CTGAN writes categories as text, numbers maybe as floats
                if not pd.api.types.is_numeric_dtype(train[column]):
                    synthetic[column] = synthetic[column].astype(object).where(synthetic[column].notna(), np.nan)
            quality = adult_quality(train, test, synthetic, args.seed)
            record("fit", "adult", "CTGAN", **base, fit_seconds=info["fit_seconds"],
                   fit_cpu_seconds=info["fit_cpu_seconds"], steps=info["steps"], train_rows=info["rows"],
                   train_rows_per_s=info["train_rows_per_s"], fit_rows_per_s=info["train_rows_per_s"], **quality,
                   sample_rows_per_s=info.get("sample_rows_per_s"), device=info["device"],
                   note=f"epochs {info['epochs']}, batch {info['batch_size']}")  # fmt: skip
            ctgan_sample = info

    # ---- part 3: generation
    if adult_model is not None:
        try:
            t0 = time.perf_counter()
            generated = model.sample(args.gen_rows, seed=args.seed)
            seconds = time.perf_counter() - t0
            record("generation", "adult", "gantools in memory", rows=len(generated), seconds=seconds,
                   rows_per_s=len(generated) / seconds, note="TabularGAN.sample()")  # fmt: skip
            del generated
        except Exception as error:  # noqa: BLE001 - reported, and the run goes on
            failed("generation", "adult", "gantools in memory", f"{type(error).__name__}: {error}")
        out = work / "generated.csv"
        command = [*gantools_exe(), "augment", "--model", adult_model, "--n", args.gen_rows, "--out", out,
                   "--seed", args.seed, "--device", args.device]  # fmt: skip
        note = f"`gantools augment --n {args.gen_rows:,} --out FILE.csv` (start-up and writing included)"
        record_cli("generation", "adult", "gantools CLI", command, out, note)
    model = None
    if ctgan_sample is not None and ctgan_sample.get("sample_rows"):
        record(
            "generation",
            "adult",
            "CTGAN in memory",
            rows=ctgan_sample["sample_rows"],
            seconds=ctgan_sample["sample_seconds"],
            rows_per_s=ctgan_sample["sample_rows_per_s"],
            peak_rss_mib=ctgan_sample["child_peak_rss_mib"],
            note="CTGAN.sample() (the child's peak RSS: fit too)",
        )

    # ---- part 4: scoring a large file
    shuttle = one_class["shuttle"]
    big = build_frame(shuttle.all_rows, args.score_rows, np.random.default_rng(args.seed))
    big_csv = work / "score_input.csv"
    big.to_csv(big_csv, index=False)
    if "shuttle" in models:
        out = work / "scores.csv"
        command = [*gantools_exe(), "score", big_csv, "--model", models["shuttle"], "--out", out,
                   "--device", args.device]  # fmt: skip
        note = "`gantools score FILE.csv --out scores.csv` (start-up, reading and writing included)"
        record_cli("scoring", "shuttle", "gantools CLI", command, out, note)
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(random_state=args.seed).fit(shuttle.fit.astype(np.float64))
    values = big.to_numpy(np.float64)
    t0 = time.perf_counter()
    forest.decision_function(values)
    seconds = time.perf_counter() - t0
    record("scoring", "shuttle", "IsolationForest", rows=len(values), seconds=seconds, rows_per_s=len(values) / seconds,
           note="in-memory decision_function, fitted on the same fit rows")  # fmt: skip
    del big, values
    big_csv.unlink()

    # ---- part 5: scaling
    for size in args.scale_sizes:
        rng = np.random.default_rng(args.seed + size)
        frame = adult_full.iloc[rng.integers(0, len(adult_full), size)]
        path = work / f"adult_{size}.csv"
        frame.to_csv(path, index=False)
        del frame
        if size <= args.max_scale_rows:
            model_dir = work / f"model_scale_{size}"
            command = [*gantools_exe(), "train", path, "--label", ADULT_LABEL, "--model", model_dir, "--quiet",
                       "--seed", args.seed, "--device", args.device]  # fmt: skip
            if args.gan_steps is not None:  # the CLI takes epochs: as many as make about --gan-steps steps
                per_epoch = math.ceil(0.8 * size / 256)
                command += ["--epochs", max(1, math.ceil(args.gan_steps / per_epoch))]
            child = run_child(command, env)
            if child.rc != 0:
                failed("scaling", f"adult {size:,}", "gantools train", child_error(child, "gantools train"))
            else:
                try:
                    hist = json.loads((model_dir / "config.json").read_text()).get("history", {})
                except (OSError, ValueError):
                    hist = {}
                record(
                    "scaling",
                    f"adult {size:,}",
                    "gantools train",
                    rows=size,
                    seconds=child.wall,
                    cpu_seconds=child.cpu,
                    peak_rss_mib=child.rss_mib,
                    train_seconds=hist.get("train_seconds"),
                    steps=hist.get("gan_steps"),
                    train_rows_per_s=hist.get("gan_rows_per_second"),
                    note=f"selected step {hist.get('selected_step')}" if hist.get("selected_step") else "",
                )
            shutil.rmtree(model_dir, ignore_errors=True)
        else:
            record("scaling", f"adult {size:,}", "gantools train", rows=size, note="not run (--max-scale-rows)")
        if adult_model is not None:
            out = work / "scale_scores.csv"
            command = [*gantools_exe(), "score", path, "--model", adult_model, "--out", out, "--device", args.device]
            record_cli("scaling", f"adult {size:,}", "gantools score", command, out, "")
        path.unlink()

    wall = time.perf_counter() - started
    table = pd.DataFrame(rows)
    summary, sections = report(table, args, notes, errors, wall)
    path = write_results(args.name, table, formatted(summary), sections)
    if not _has_tabulate():  # write_results then prints the summary as plain text: make it a Markdown table
        text = path.read_text()
        path.write_text(text.replace(formatted(summary).to_string(index=False), md_table(summary), 1))
    print(formatted(summary).to_string(index=False))
    print("\n" + sections)
    print("wrote", path)
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    if errors:
        sys.exit("failed: " + "; ".join(errors))


def _get(table: pd.DataFrame, part: str, dataset: str, method: str, column: str) -> float:
    match = table[(table["part"] == part) & (table["dataset"] == dataset) & (table["method"] == method)]
    if match.empty or column not in match or pd.isna(match[column].iloc[0]):
        return float("nan")
    return float(match[column].iloc[0])


def report(table: pd.DataFrame, args: argparse.Namespace, notes: list[str], errors: list[str], wall: float):
    """The summary table (part 1 and 2), and the Markdown sections: ratios, generation/scoring, scaling."""
    for column in ("auroc", "tstr_bacc", "trtr_bacc", "detection_auc", "steps", "fit_seconds", "train_rows_per_s",
                   "fit_rows_per_s", "sample_rows_per_s", "score_rows_per_s", "rows", "test_rows", "note"):  # fmt: skip
        if column not in table:
            table[column] = np.nan
    fits = table[table["part"] == "fit"]
    summary = fits[["dataset", "method", "rows", "fit_seconds", "steps", "train_rows_per_s", "fit_rows_per_s",
                    "auroc", "tstr_bacc", "detection_auc", "score_rows_per_s", "sample_rows_per_s",
                    "note"]].copy()  # fmt: skip

    def get(part: str, dataset: str, method: str, column: str) -> float:
        return _get(table, part, dataset, method, column)

    lines = [
        ("Adult: training rows/s, GAN loop (gantools: steps x batch / GAN s; CTGAN: rows x epochs / fit s)",
         get("fit", "adult", "gantools", "train_rows_per_s"), get("fit", "adult", "CTGAN", "train_rows_per_s")),
        ("Adult: training rows/s, whole fit (gantools: steps x batch / fit s)",
         get("fit", "adult", "gantools", "fit_rows_per_s"), get("fit", "adult", "CTGAN", "fit_rows_per_s")),
        ("Adult: generation rows/s, gantools CLI augment to CSV / CTGAN in-memory sample()",
         get("generation", "adult", "gantools CLI", "rows_per_s"),
         get("generation", "adult", "CTGAN in memory", "rows_per_s")),
        ("Adult: generation rows/s, gantools in-memory sample() / CTGAN in-memory sample()",
         get("generation", "adult", "gantools in memory", "rows_per_s"),
         get("generation", "adult", "CTGAN in memory", "rows_per_s")),
        ("shuttle: scoring rows/s, gantools CLI score CSV to CSV / IsolationForest in-memory",
         get("scoring", "shuttle", "gantools CLI", "rows_per_s"),
         get("scoring", "shuttle", "IsolationForest", "rows_per_s")),
        ("banknote genuine notes: fit seconds, gantools (one class) / CTGAN",
         get("fit", "banknote_genuine", "gantools", "fit_seconds"),
         get("fit", "banknote_genuine", "CTGAN", "fit_seconds")),
        ("shuttle normals: fit seconds, gantools (one class) / CTGAN",
         get("fit", "shuttle", "gantools", "fit_seconds"), get("fit", "shuttle", "CTGAN", "fit_seconds")),
        ("Adult: fit seconds, gantools / CTGAN",
         get("fit", "adult", "gantools", "fit_seconds"), get("fit", "adult", "CTGAN", "fit_seconds")),
    ]  # fmt: skip
    ratios = pd.DataFrame(
        [{"figure": what, "gantools": a, "peer": b, "ratio gantools / peer": ratio(a, b)} for what, a, b in lines]
    )
    quality = fits[fits["dataset"].isin(ONE_CLASS_SETS)].pivot_table(
        index="method", columns="dataset", values=["auroc", "fit_seconds"], aggfunc="first"
    )
    quality.columns = [f"{dataset} {value}" for value, dataset in quality.columns]
    quality = quality[sorted(quality.columns, key=lambda c: (c.split(" ")[0], c))].reset_index()
    adult = fits[fits["dataset"] == "adult"][["method", "fit_seconds", "tstr_bacc", "trtr_bacc", "detection_auc"]]
    io = table[table["part"].isin(["generation", "scoring"])]
    io = io.reindex(columns=["part", "dataset", "method", "rows", "seconds", "rows_per_s", "peak_rss_mib", "note"])
    scale = table[table["part"] == "scaling"].copy()
    scaling = pd.DataFrame(
        [
            {
                "rows": int(rows),
                "train seconds (CLI wall)": _get(g, "scaling", g["dataset"].iloc[0], "gantools train", "seconds"),
                "GAN steps": _get(g, "scaling", g["dataset"].iloc[0], "gantools train", "steps"),
                "train rows/s (GAN loop)": _get(g, "scaling", g["dataset"].iloc[0], "gantools train",
                                                "train_rows_per_s"),
                "train peak RSS MiB": _get(g, "scaling", g["dataset"].iloc[0], "gantools train", "peak_rss_mib"),
                "score seconds (CLI wall)": _get(g, "scaling", g["dataset"].iloc[0], "gantools score", "seconds"),
                "score rows/s": _get(g, "scaling", g["dataset"].iloc[0], "gantools score", "rows_per_s"),
                "score peak RSS MiB": _get(g, "scaling", g["dataset"].iloc[0], "gantools score", "peak_rss_mib"),
            }
            for rows, g in scale.groupby("rows", sort=True)
        ]
    ) if not scale.empty else pd.DataFrame()  # fmt: skip
    steps = "gantools' default steps" if args.gan_steps is None else f"{args.gan_steps} GAN steps (--gan-steps)"
    sections = [
        *(
            ["**Run in --quick mode: tiny sizes, a smoke test; do not read the figures as results.**", ""]
            if args.quick
            else []
        ),  # fmt: skip
        *(["Failed: " + "; ".join(errors), ""] if errors else []),
        *([" ".join(notes), ""] if notes else []),
        "## Ratios (same machine, same run)",
        "",
        md_table(ratios),
        "",
        "## Fit seconds and AUROC on the one-class sets",
        "",
        md_table(quality),
        "",
        "## Adult: fit seconds and quality (HistGradientBoosting, balanced accuracy; detection: 0.5 = "
        "indistinguishable)",
        "",
        md_table(adult),
        "",
        "## Generation and scoring",
        "",
        md_table(io),
        "",
        "## Scaling (Adult resampled with replacement; `gantools train --label income`, `gantools score` with the "
        "Adult model of part 1)",
        "",
        md_table(scaling) if not scaling.empty else "(not run)",
        "",
        f"Settings: gantools `TabularGAN(TrainConfig(seed={args.seed}, device='{args.device}'))` with {steps}; "
        f"CTGAN epochs={args.ctgan_epochs}, batch 500 (its default; fewer rows: the rows rounded down to tens), "
        f"pac 10; AnoGAN/ALAD epochs: {args.peer_epochs or 'PyOD defaults (500 / 200)'}, contamination "
        f"{CONTAMINATION}; IsolationForest: scikit-learn defaults; KNN: PyOD defaults. {args.threads} torch/OpenMP "
        f"thread(s) (--threads) in every process; peers stopped after {args.peer_timeout:.0f} s, CTGAN after "
        f"{args.ctgan_timeout:.0f} s. One-class sets: anomaly.py's protocol (seed {args.seed}: the normal rows "
        "permuted, 60% fitted, the rest plus every anomaly tested); gantools and CTGAN get the raw values, the "
        "PyOD/scikit-learn peers the values standardised on the fitted rows (as in anomaly.py). gantools' "
        "`train_rows_per_s` is the model's `gan_rows_per_second` (GAN steps x batch / GAN seconds, one generator; "
        "one-class models train several: `generators`), `fit_rows_per_s` the same rows over the whole fit "
        "(every generator, the encoder, preprocessing, calibration); CTGAN's both are rows x epochs / fit "
        "seconds (its fit includes its preprocessing). In-memory scoring rows/s: one call on the test rows "
        f"repeated to {args.throughput_rows:,} rows (AnoGAN: its test rows once). Large-file scoring: "
        f"{args.score_rows:,} rows resampled from all shuttle rows with +-1 jitter on one cell in ten "
        "(score_large.py's files); peak RSS is the child process's own (os.wait4). "
        f"Wall time {wall:.0f} s.",
    ]
    return summary, "\n".join(sections)


if __name__ == "__main__":
    main()
