#!/usr/bin/env python3
"""PyTorch eager baseline for the GPU check: the same CIFAR ResNet training step that
native/bench/bench_resnet_cuda.cu times on resnorm (ResNet-110, batch 128, 32x32 inputs,
10 classes; BN + ReLU and BN + CReLU basic blocks, option-A shortcuts, SGD momentum 0.9
Nesterov with weight decay 1e-4), in plain eager mode, NCHW, cudnn.benchmark on (PyTorch's
fastest conv algorithms), FP32 (TF32 off) and TF32.

Prints a markdown table and one tab-separated RESULT line per row:
    RESULT  pytorch  <network>  <FP32|TF32>  eager  <ms per step>
Usage: pytorch_resnet_step.py [--depth 110] [--batch 128] [--steps 10] [--out table.md]
Exits 0 with a note when PyTorch or a GPU is missing (the check goes on without it).
"""
import argparse
import statistics
import sys


def build(torch, depth, crelu, classes=10, width=16):
    nn = torch.nn
    F = torch.nn.functional

    class Block(nn.Module):
        def __init__(self, cin, k, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, k, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(k)
            self.conv2 = nn.Conv2d(2 * k if crelu else k, k, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(k)
            self.stride, self.pad = stride, k - cin

        def forward(self, x):
            h = self.bn1(self.conv1(x))
            h = torch.cat([F.relu(h), F.relu(-h)], 1) if crelu else F.relu(h)
            h = self.bn2(self.conv2(h))
            skip = x
            if self.stride != 1 or self.pad:  # option A: subsample, append zero channels
                skip = F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, 0, self.pad))
            return F.relu(h + skip)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            n = (depth - 2) // 6
            self.conv = nn.Conv2d(3, width, 3, 1, 1, bias=False)
            self.bn = nn.BatchNorm2d(width)
            blocks, c = [], width
            for stage in range(3):
                k = width << stage
                for j in range(n):
                    blocks.append(Block(c, k, 2 if stage > 0 and j == 0 else 1))
                    c = k
            self.blocks = nn.Sequential(*blocks)
            self.fc = nn.Linear(c, classes)

        def forward(self, x):
            h = self.blocks(F.relu(self.bn(self.conv(x))))
            return self.fc(h.mean((2, 3)))

    return Net()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=110)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--out")
    a = ap.parse_args()
    try:
        import torch
    except ImportError as e:
        print(f"pytorch_resnet_step: PyTorch not importable ({e}): baseline skipped")
        return 0
    if not torch.cuda.is_available():
        print("pytorch_resnet_step: torch.cuda.is_available() is False: baseline skipped")
        return 0
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda")
    name = torch.cuda.get_device_name(0)
    rows = []
    for crelu in (False, True):
        for tf32 in (False, True):
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.manual_seed(1)
            model = build(torch, a.depth, crelu).to(dev)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
            x = torch.randn(a.batch, 3, 32, 32, device=dev)
            y = torch.arange(a.batch, device=dev) % 10

            def step():
                opt.zero_grad(set_to_none=True)
                loss = torch.nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                return loss

            for _ in range(5):  # warm-up: cudnn.benchmark picks its algorithms here
                step()
            torch.cuda.synchronize()
            times = []
            for _ in range(5):
                start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(a.steps):
                    loss = step()
                stop.record()
                stop.synchronize()
                times.append(start.elapsed_time(stop) / a.steps)
            if not torch.isfinite(loss).item():
                print("pytorch_resnet_step: loss not finite", file=sys.stderr)
            net = f"ResNet-{a.depth} " + ("BN+CReLU" if crelu else "BN+ReLU")
            rows.append((net, "TF32" if tf32 else "FP32", statistics.median(times), min(times)))
            del model, opt
            torch.cuda.empty_cache()
    table = (f"PyTorch {torch.__version__} eager (cuDNN {torch.backends.cudnn.version()}, benchmark mode) on {name}, "
             f"batch {a.batch}, median of 5 rounds of {a.steps} steps\n\n"
             "| network | math | ms/step (median) | best | images/s |\n|---|---|---|---|---|\n")
    for net, math, med, best in rows:
        table += f"| {net} | {math} | {med:.2f} | {best:.2f} | {a.batch / (med * 1e-3):.0f} |\n"
    print(table, end="")
    for net, math, med, _ in rows:
        print(f"RESULT\tpytorch\t{net}\t{math}\teager\t{med:.3f}")
    if a.out:
        with open(a.out, "w") as f:
            f.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
