"""PyTorch CPU reference for pipe: the FER2013 paper CNN, same layers and batch size.

Two uses:
  speed (bench/train.ts runs this):  python3 bench/torch_cnn.py [--batch 64] [--steps 5] [--threads 2]
      prints one JSON line {"trainImagesPerSec", "trainImagesPerCpuSec", "inferMsPerImage", "threads", "torch"}
  training, the pipeline's protocol from its own Arrow artifact (see bench/keras_cnn.py):
      python3 bench/torch_cnn.py --data <data.arrow> --epochs 4 [--batch 64] [--lr 1e-3] [--seed 42] [--subset N]
      prints one JSON line per epoch: loss, accuracy, val_accuracy, test_accuracy, seconds (needs pyarrow)
  Ablation options: --init torch|keras (PyTorch's kaiming-uniform kernels and fan-in biases, or Glorot-uniform
      kernels and zero biases)  --bn-momentum 0.99 --bn-epsilon 1e-3 (Keras's convention and values; PyTorch's
      own are 0.9 and 1e-5)  --adam-epsilon 1e-8
"""
import argparse
import json
import time

import torch
from fer_arrow import reference_arguments
from torch import nn


def paper_cnn(classes: int = 7, bn_momentum: float = 0.99, bn_epsilon: float = 1e-3) -> nn.Module:
    # Keras's BatchNormalization(momentum=m, epsilon=e) is torch's BatchNorm2d(momentum=1 - m, eps=e).
    def bn(c: int) -> nn.Module:
        return nn.BatchNorm2d(c, eps=bn_epsilon, momentum=1 - bn_momentum)

    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(),                 # 46
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),     # 46
        bn(64), nn.MaxPool2d(2),                        # 23
        nn.Conv2d(64, 64, 3), nn.ReLU(),                # 21
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(),    # 21
        bn(128), nn.MaxPool2d(2),                       # 10
        nn.Conv2d(128, 128, 3), nn.ReLU(),              # 8
        bn(128), nn.MaxPool2d(2),                       # 4
        nn.Flatten(),                                   # 2048
        nn.Linear(2048, 200), nn.ReLU(), nn.Dropout(0.6),
        nn.Linear(200, classes),                        # softmax folded into the loss
    )


def keras_init(model: nn.Module) -> None:
    """Keras's defaults instead of PyTorch's: Glorot-uniform kernels, zero biases."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def train(args: argparse.Namespace) -> None:
    import numpy as np
    from fer_arrow import read_dataset, rows_of

    torch.manual_seed(args.seed)
    ds = read_dataset(args.data)
    rows = {s: rows_of(ds, s) for s in ("train", "validation", "test")}
    rng = np.random.default_rng(args.seed)
    if args.subset:
        rows["train"] = rng.permutation(rows["train"])[: args.subset]
    x = torch.from_numpy(ds["x"]).permute(0, 3, 1, 2).contiguous()  # NHWC → NCHW
    y = torch.from_numpy(ds["y"])
    model = paper_cnn(bn_momentum=args.bn_momentum, bn_epsilon=args.bn_epsilon)
    if args.init == "keras":
        keras_init(model)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, eps=args.adam_epsilon)
    loss_fn = nn.CrossEntropyLoss()

    def accuracy(r: "np.ndarray") -> float:
        model.eval()
        with torch.no_grad():
            hits = sum(int((model(x[r[i:i + 256]]).argmax(1) == y[r[i:i + 256]]).sum()) for i in range(0, len(r), 256))
        return hits / len(r)

    for epoch in range(1, args.epochs + 1):
        t = time.perf_counter()
        order = torch.from_numpy(rng.permutation(rows["train"]))
        model.train()
        loss_sum, hits = 0.0, 0
        for i in range(0, len(order), args.batch):
            idx = order[i:i + args.batch]
            opt.zero_grad()
            out = model(x[idx])
            loss = loss_fn(out, y[idx])
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            hits += int((out.argmax(1) == y[idx]).sum())
        seconds = time.perf_counter() - t
        print(json.dumps({
            "framework": f"torch {torch.__version__}", "epoch": epoch, "loss": loss_sum / len(order),
            "accuracy": hits / len(order), "val_accuracy": accuracy(rows["validation"]),
            "test_accuracy": accuracy(rows["test"]), "trainRows": len(order), "seconds": seconds,
        }), flush=True)


def main() -> None:
    ap = reference_arguments()
    ap.add_argument("--init", choices=["torch", "keras"], default="torch")
    ap.add_argument("--adam-epsilon", type=float, default=1e-8)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.data:
        train(args)
        return
    torch.manual_seed(0)
    model = paper_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(args.batch, 1, 48, 48)
    y = torch.randint(0, 7, (args.batch,))

    def step() -> None:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    model.train()
    step()  # warm-up
    t = time.perf_counter()
    c = time.process_time()  # CPU time of all threads: robust to other load on the machine
    for _ in range(args.steps):
        step()
    train_s = (time.perf_counter() - t) / args.steps
    train_cpu_s = (time.process_time() - c) / args.steps

    model.eval()
    with torch.no_grad():
        model(x)
        t = time.perf_counter()
        for _ in range(args.steps):
            model(x)
        infer_s = (time.perf_counter() - t) / args.steps

    print(json.dumps({
        "trainImagesPerSec": args.batch / train_s,
        "trainImagesPerCpuSec": args.batch / train_cpu_s,
        "inferMsPerImage": infer_s * 1000 / args.batch,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
