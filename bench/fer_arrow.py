"""Reads a pipe image dataset (the Arrow IPC file a stage writes, e.g. normalise's data.arrow) for the reference
scripts: pixels as float32 NHWC after the dataset's own recorded transform (pipe.normalise), labels, split names.
"""
import json

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

# evaluate's aliases: FER2013 calls its test split PrivateTest and its validation split PublicTest.
ALIASES = {"test": ["test", "PrivateTest"], "validation": ["validation", "PublicTest"], "train": ["train", "Training"]}


def read_dataset(path: str) -> dict:
    with pa.memory_map(path) as source:
        table = ipc.open_file(source).read_all()
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    h, w, c = json.loads(meta["pipe.shape"])
    classes = json.loads(meta["pipe.classes"])
    n = table.num_rows
    pixels = table["pixels"].combine_chunks().flatten().to_numpy().reshape(n, h, w, c)
    t = json.loads(meta.get("pipe.normalise", '{"mode": "scale", "scale": 0.00392156862745098, "mean": [0], "std": [1]}'))
    x = (pixels.astype(np.float32) * np.float32(t["scale"]) - np.asarray(t["mean"], np.float32)) / np.asarray(t["std"], np.float32)
    split = np.asarray(table["split"].combine_chunks().dictionary_decode().to_pylist())
    return {"x": x, "y": table["label"].to_numpy().astype(np.int64), "split": split, "classes": classes}


def rows_of(ds: dict, name: str) -> np.ndarray:
    for candidate in ALIASES.get(name, [name]):
        rows = np.nonzero(ds["split"] == candidate)[0]
        if len(rows):
            return rows
    raise SystemExit(f"no rows in split '{name}' (splits: {sorted(set(ds['split']))})")
