"""What the reference scripts (keras_cnn.py, torch_cnn.py) share: their common options, and reading a pipe image
dataset (the Arrow IPC file a stage writes, e.g. normalise's data.arrow): pixels as float32 NHWC after the
dataset's own recorded transform (pipe.normalise), labels, split names. pyarrow is needed only for --data.
"""
import argparse
import json

# evaluate's aliases: FER2013 calls its test split PrivateTest and its validation split PublicTest.
ALIASES = {"test": ["test", "PrivateTest"], "validation": ["validation", "PublicTest"], "train": ["train", "Training"]}


def reference_arguments() -> argparse.ArgumentParser:
    """Options of both scripts: the speed run's, and the training run's on a pipeline artifact."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", help="a pipe dataset (Arrow) to train on, e.g. the normalise stage's data.arrow")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--subset", type=int, default=0, help="train on N shuffled train rows only (0: all)")
    ap.add_argument("--bn-momentum", type=float, default=0.99, help="Keras's convention: the moving average keeps this much")
    ap.add_argument("--bn-epsilon", type=float, default=1e-3)
    return ap


def read_dataset(path: str) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.ipc as ipc
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


def rows_of(ds: dict, name: str):
    import numpy as np

    for candidate in ALIASES.get(name, [name]):
        rows = np.nonzero(ds["split"] == candidate)[0]
        if len(rows):
            return rows
    raise SystemExit(f"no rows in split '{name}' (splits: {sorted(set(ds['split']))})")
