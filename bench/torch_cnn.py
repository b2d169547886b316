"""PyTorch CPU reference for bench/train.ts: the FER2013 paper CNN, same layers and batch size.

Prints one JSON line: {"trainImagesPerSec", "trainImagesPerCpuSec", "inferMsPerImage", "threads", "torch"}.
Usage: python3 bench/torch_cnn.py [--batch 64] [--steps 5] [--threads 2]
"""
import argparse
import json
import time

import torch
from torch import nn


def paper_cnn(classes: int = 7) -> nn.Module:
    # Keras defaults: BatchNormalization(momentum=0.99, epsilon=1e-3) == torch momentum 0.01, eps 1e-3.
    def bn(c: int) -> nn.Module:
        return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
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
