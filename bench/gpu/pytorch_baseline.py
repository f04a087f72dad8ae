#!/usr/bin/env python3
"""PyTorch baseline for MLNet.FastAi.Bench `train`: the same network (torchvision ResNet-18 body + fastai's head),
batch 128, 28x28 MNIST PNGs, fastai's AdamW hyper-parameters, with the body frozen (BatchNorm trainable) and unfrozen.

Variants, each timed per epoch (steady figure = median of epochs 2..N):
  tensors   the decoded images already on the device as uint8, batches gathered there (what MLNet.FastAi does);
            optimizer torch.optim.AdamW with foreach (PyTorch's default, multi-tensor) and with foreach=False
  loader    a torch DataLoader decoding the PNGs from disk every epoch (workers), the usual PyTorch path (one config)

Writes a JSON report (--json) in the same shape as the .NET benchmark's.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.io import ImageReadMode, read_image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ConcatPool(nn.Module):
    """fastai's AdaptiveConcatPool2d: [max, mean] over space."""

    def forward(self, x):
        return torch.cat([x.amax((2, 3)), x.mean((2, 3))], 1)


def fastai_head(features, classes, ps=0.5, hidden=512):
    head = nn.Sequential(
        ConcatPool(), nn.BatchNorm1d(2 * features), nn.Dropout(ps / 2), nn.Linear(2 * features, hidden, bias=False),
        nn.ReLU(inplace=True), nn.BatchNorm1d(hidden), nn.Dropout(ps), nn.Linear(hidden, classes, bias=False))
    for m in head:
        if isinstance(m, nn.BatchNorm1d):
            nn.init.ones_(m.weight)
            nn.init.constant_(m.bias, 1e-3)
        elif isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight)
    return head


def cnn(classes):
    """The package's CnnModel: torchvision's resnet18 cut before its pooling, then fastai's head."""
    body = nn.Sequential(*list(torchvision.models.resnet18().children())[:-2])
    return nn.Sequential(body, fastai_head(512, classes))


def freeze_body(model, frozen):
    body = model[0]
    for module in body.modules():
        for p in module.parameters(recurse=False):
            # fastai's freeze with train_bn=True: BatchNorm layers stay trainable.
            p.requires_grad = (not frozen) or isinstance(module, nn.BatchNorm2d)
    for p in model[1].parameters():
        p.requires_grad = True


def optimizer(model, foreach):
    params = [p for p in model.parameters() if p.requires_grad]
    kwargs = dict(lr=1e-3, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01)
    if foreach is not None:
        kwargs["foreach"] = foreach
    return torch.optim.AdamW(params, **kwargs)


def list_images(folder):
    """fastai's mnist_png layout: training/<class>/*.png and testing/<class>/*.png."""
    splits = {}
    for split in ("training", "testing"):
        root = os.path.join(folder, split)
        if not os.path.isdir(root):
            sys.exit(f"error: {root} does not exist (expected fastai's mnist_png layout: training/ and testing/)")
        classes = sorted(os.listdir(root))
        items = [(os.path.join(root, c, f), i) for i, c in enumerate(classes) for f in sorted(os.listdir(os.path.join(root, c)))
                 if f.lower().endswith(".png")]
        splits[split] = (items, classes)
    return splits


def decode_all(items):
    images = torch.stack([read_image(path, ImageReadMode.RGB) for path, _ in items])
    labels = torch.tensor([label for _, label in items], dtype=torch.long)
    return images, labels


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Normalizer:
    def __init__(self, device):
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)

    def __call__(self, uint8_images):
        return (uint8_images.float().div_(255) - self.mean) / self.std


def run_tensors(model, opt, train, valid, batch, epochs, device):
    """Epochs over uint8 tensors already on the device: gather, convert, normalize, train; then validate."""
    norm = Normalizer(device)
    images, labels = train
    vimages, vlabels = valid
    count = images.shape[0]
    n = count // batch * batch if count > batch else count  # drop the last partial batch, as fastai (and MLNet.FastAi) do
    results = []
    generator = torch.Generator(device="cpu").manual_seed(0)
    for epoch in range(epochs):
        sync(device)
        start = time.perf_counter()
        model.train()
        order = torch.randperm(images.shape[0], generator=generator).to(device)
        for b in range(0, n, batch):
            idx = order[b:b + batch]
            loss = F.cross_entropy(model(norm(images[idx])), labels[idx])
            loss.backward()
            opt.step()
            opt.zero_grad()
        sync(device)
        train_s = time.perf_counter() - start
        model.eval()
        correct = torch.zeros((), dtype=torch.long, device=device)
        with torch.no_grad():
            for b in range(0, vimages.shape[0], 2 * batch):
                correct += (model(norm(vimages[b:b + 2 * batch])).argmax(1) == vlabels[b:b + 2 * batch]).sum()
        accuracy = correct.item() / vimages.shape[0]
        sync(device)
        epoch_s = time.perf_counter() - start
        results.append(dict(epoch=epoch + 1, trainMs=1000 * train_s, epochMs=1000 * epoch_s, trainImages=n, accuracy=accuracy))
    return results


class PngDataset(torch.utils.data.Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        return read_image(path, ImageReadMode.RGB), label


def run_loader(model, opt, train_items, batch, epochs, device, workers):
    """The usual PyTorch path: a DataLoader decoding PNGs in worker processes every epoch."""
    norm = Normalizer(device)
    loader = torch.utils.data.DataLoader(PngDataset(train_items), batch_size=batch, shuffle=True, drop_last=len(train_items) > batch,
                                         num_workers=workers, pin_memory=device.type == "cuda", persistent_workers=workers > 0)
    results = []
    for epoch in range(epochs):
        sync(device)
        start = time.perf_counter()
        model.train()
        seen = 0
        for x, y in loader:
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            loss = F.cross_entropy(model(norm(x)), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            seen += x.shape[0]
        sync(device)
        train_s = time.perf_counter() - start
        results.append(dict(epoch=epoch + 1, trainMs=1000 * train_s, epochMs=1000 * train_s, trainImages=seen))
    return results


def steady(values):
    values = values[1:] if len(values) >= 2 else values
    return statistics.median(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--loader-epochs", type=int, default=2, help="epochs of the DataLoader variant (0 skips it)")
    parser.add_argument("--json")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(1)

    report = dict(command="pytorch-baseline", environment=dict(
        python=platform.python_version(), torch=torch.__version__, torchvision=torchvision.__version__,
        cuda=torch.version.cuda, device=str(device), threads=torch.get_num_threads(),
        gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        cudnnTf32=torch.backends.cudnn.allow_tf32, matmulTf32=torch.backends.cuda.matmul.allow_tf32),
        settings=vars(args), figures=[], notes=[])
    for key, value in report["environment"].items():
        print(f"# {key}: {value}")

    def figure(name, value, unit, details=None):
        report["figures"].append(dict(name=name, value=round(value, 4), unit=unit, **({"details": details} if details else {})))
        print(f"{(name + ' ').ljust(52, '.')} {value:,.2f} {unit}")

    splits = list_images(args.folder)
    start = time.perf_counter()
    train = decode_all(splits["training"][0])
    valid = decode_all(splits["testing"][0])
    decode_s = time.perf_counter() - start
    total = train[0].shape[0] + valid[0].shape[0]
    figure("decode (torchvision read_image, one thread)", total / decode_s, "images/s")
    classes = len(splits["training"][1])
    train = tuple(t.to(device) for t in train)
    valid = tuple(t.to(device) for t in valid)

    # Unmeasured warm-up: cuDNN autotuning, allocator growth, lazy CUDA initialisation.
    warm = cnn(classes).to(device)
    run_tensors(warm, optimizer(warm, None), tuple(t[:4 * args.batch] for t in train), valid, args.batch, 1, device)
    del warm

    for frozen in (True, False):
        config = "frozen" if frozen else "unfrozen"
        print(f"\n== resnet18, body {config}, batch {args.batch}, {args.epochs} epoch(s), {device} ==")
        rates = {}
        for label, foreach in (("AdamW foreach (default)", None), ("AdamW foreach=False", False)):
            torch.manual_seed(1)
            model = cnn(classes).to(device)
            freeze_body(model, frozen)
            epochs = run_tensors(model, optimizer(model, foreach), train, valid, args.batch, args.epochs, device)
            for e in epochs:
                print(f"  {config} {label} epoch {e['epoch']}: training {e['trainMs'] / 1000:.2f} s, epoch {e['epochMs'] / 1000:.2f} s, "
                      f"accuracy {e['accuracy']:.3f}")
            epoch_rate = steady([e["trainImages"] / (e["epochMs"] / 1000) for e in epochs])
            train_rate = steady([e["trainImages"] / (e["trainMs"] / 1000) for e in epochs])
            rates[label] = train_rate
            figure(f"{config} PyTorch tensors, {label} full epoch", epoch_rate, "images/s", dict(epochs=epochs))
            figure(f"{config} PyTorch tensors, {label} training phase", train_rate, "images/s")
            del model
        figure(f"{config} PyTorch foreach / per-parameter AdamW", rates["AdamW foreach (default)"] / rates["AdamW foreach=False"], "x")

    if args.loader_epochs > 0:
        print(f"\n== DataLoader from PNG files, {args.workers} workers, body unfrozen ==")
        torch.manual_seed(1)
        model = cnn(classes).to(device)
        epochs = run_loader(model, optimizer(model, None), splits["training"][0], args.batch, args.loader_epochs, device, args.workers)
        for e in epochs:
            print(f"  loader epoch {e['epoch']}: {e['trainMs'] / 1000:.2f} s")
        figure("unfrozen PyTorch DataLoader (PNG decode in workers) training", steady([e["trainImages"] / (e["trainMs"] / 1000) for e in epochs]),
               "images/s", dict(epochs=epochs))
    report["notes"].append("steady figures are medians over epochs 2..N when N >= 2; images/s count training images")

    if args.json:
        tmp = f"{args.json}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(report, f, indent=2)
        os.replace(tmp, args.json)
        print(f"# JSON written to {args.json}")


if __name__ == "__main__":
    main()
