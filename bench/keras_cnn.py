"""Keras 3 / TensorFlow CPU reference for pipe: the FER2013 paper CNN with Keras defaults.

Two uses:
  speed (bench/train.ts runs this):  python bench/keras_cnn.py [--batch 64] [--steps 5] [--threads 2]
      prints one JSON line {"trainImagesPerSec", "trainImagesPerCpuSec", "inferMsPerImage", "threads", "keras", "tensorflow"}
  training, the pipeline's protocol from its own Arrow artifact (e.g. the normalise stage's data.arrow of
  pipelines/fer2013-baseline.yaml: train split over-sampled, PublicTest as validation, PrivateTest as test):
      python bench/keras_cnn.py --data <data.arrow> --epochs 4 [--batch 64] [--lr 1e-3] [--seed 42] [--subset N]
      prints one JSON line per epoch: loss, accuracy, val_accuracy, test_accuracy, seconds
  Ablation options (defaults are Keras's): --kernel-init glorot|torch  --bias-init zeros|torch
      --bn-momentum 0.99  --bn-epsilon 1e-3  --adam-epsilon 1e-7
Needs tensorflow-cpu, keras 3 and pyarrow (a virtual environment is enough); optional for pipe itself.
"""
import argparse
import json
import os
import time

from fer_arrow import reference_arguments


def parse() -> argparse.Namespace:
    ap = reference_arguments()
    ap.add_argument("--kernel-init", choices=["glorot", "torch"], default="glorot")
    ap.add_argument("--bias-init", choices=["zeros", "torch"], default="zeros")
    ap.add_argument("--adam-epsilon", type=float, default=1e-7)
    return ap.parse_args()


args = parse()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(args.threads)
tf.config.threading.set_inter_op_parallelism_threads(1)


class TorchBias(keras.initializers.Initializer):
    """PyTorch's bias default, U(±1/√fan_in), for a layer whose kernel has fan-in `fan_in`."""

    def __init__(self, fan_in: int, seed: int):
        self.bound, self.seed = 1 / np.sqrt(fan_in), seed

    def __call__(self, shape, dtype=None):
        return keras.random.uniform(shape, -self.bound, self.bound, dtype=dtype, seed=self.seed)


def paper_cnn(classes: int = 7, seed: int = 0) -> keras.Model:
    counter = iter(range(seed * 100, seed * 100 + 100))

    def kernel():
        if args.kernel_init == "torch":
            return keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform", seed=next(counter))
        return keras.initializers.GlorotUniform(seed=next(counter))

    def bias(fan_in):
        return TorchBias(fan_in, next(counter)) if args.bias_init == "torch" else "zeros"

    def conv(filters, fan_in, padding="valid"):
        return layers.Conv2D(filters, 3, padding=padding, activation="relu", kernel_initializer=kernel(), bias_initializer=bias(fan_in))

    def bn():
        return layers.BatchNormalization(momentum=args.bn_momentum, epsilon=args.bn_epsilon)

    return keras.Sequential([
        keras.Input((48, 48, 1)),
        conv(32, 9), conv(64, 288, "same"), bn(), layers.MaxPooling2D(2),
        conv(64, 576), conv(128, 576, "same"), bn(), layers.MaxPooling2D(2),
        conv(128, 1152), bn(), layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(200, activation="relu", kernel_initializer=kernel(), bias_initializer=bias(2048)),
        layers.Dropout(0.6, seed=seed),
        layers.Dense(classes, activation="softmax", kernel_initializer=kernel(), bias_initializer=bias(200)),
    ])


def compiled(seed: int) -> keras.Model:
    model = paper_cnn(seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(args.lr, epsilon=args.adam_epsilon), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def speed() -> None:
    keras.utils.set_random_seed(0)
    model = compiled(0)
    x = np.random.rand(args.batch, 48, 48, 1).astype(np.float32)
    y = np.random.randint(0, 7, args.batch)
    model.train_on_batch(x, y)  # warm-up: tracing and kernel setup
    t, c = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        model.train_on_batch(x, y)
    train_s = (time.perf_counter() - t) / args.steps
    train_cpu_s = (time.process_time() - c) / args.steps
    model.predict_on_batch(x)
    t = time.perf_counter()
    for _ in range(args.steps):
        model.predict_on_batch(x)
    infer_s = (time.perf_counter() - t) / args.steps
    print(json.dumps({
        "trainImagesPerSec": args.batch / train_s,
        "trainImagesPerCpuSec": args.batch / train_cpu_s,
        "inferMsPerImage": infer_s * 1000 / args.batch,
        "threads": args.threads,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
    }))


def train() -> None:
    from fer_arrow import read_dataset, rows_of  # noqa: E402

    keras.utils.set_random_seed(args.seed)
    ds = read_dataset(args.data)
    train_rows, val_rows, test_rows = (rows_of(ds, s) for s in ("train", "validation", "test"))
    rng = np.random.default_rng(args.seed)
    if args.subset:
        train_rows = rng.permutation(train_rows)[: args.subset]
    model = compiled(args.seed)
    x, y = ds["x"], ds["y"]
    for epoch in range(1, args.epochs + 1):
        t = time.perf_counter()
        order = rng.permutation(train_rows)
        hist = model.fit(x[order], y[order], batch_size=args.batch, epochs=1, shuffle=False, verbose=0)
        seconds = time.perf_counter() - t
        _, val_acc = model.evaluate(x[val_rows], y[val_rows], batch_size=256, verbose=0)
        _, test_acc = model.evaluate(x[test_rows], y[test_rows], batch_size=256, verbose=0)
        print(json.dumps({
            "framework": f"keras {keras.__version__}", "epoch": epoch, "loss": hist.history["loss"][0],
            "accuracy": hist.history["accuracy"][0], "val_accuracy": val_acc, "test_accuracy": test_acc,
            "trainRows": int(len(order)), "seconds": seconds,
        }), flush=True)


if __name__ == "__main__":
    train() if args.data else speed()
