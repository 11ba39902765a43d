"""Rebuild the example files from the bundled banknote data (seeded, so the files never change).

genuine_notes.csv: 80% of the class-0 notes (the demo model's training data).
suspect_notes/: notes that model never saw: the other 20% of class 0, and class-1 notes in two files
(one CSV, one Parquet), as a user would receive them.
"""

from pathlib import Path

import numpy as np

from gantools.datasets import load_banknote

HERE = Path(__file__).parent

df = load_banknote()
rng = np.random.default_rng(2024)
genuine = df[df["class"] == 0].iloc[rng.permutation(int((df["class"] == 0).sum()))]
forged = df[df["class"] == 1].iloc[rng.permutation(int((df["class"] == 1).sum()))]
cut = int(0.8 * len(genuine))
genuine.iloc[:cut].sort_index().to_csv(HERE / "genuine_notes.csv", index=False)
suspect = HERE / "suspect_notes"
suspect.mkdir(exist_ok=True)
genuine.iloc[cut:].sort_index().to_csv(suspect / "batch_01_genuine_heldout.csv", index=False)
forged.iloc[:40].sort_index().to_csv(suspect / "batch_02_forged.csv", index=False)
forged.iloc[40:80].sort_index().reset_index(drop=True).to_parquet(suspect / "batch_03_forged.parquet", index=False)
