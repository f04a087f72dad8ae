#!/usr/bin/python3
"""The real fastai 2.7.11 on a train/valid/test folder: vision_learner(resnet18).fine_tune(N), then test accuracy.

The fastai side of the package's accuracy comparison. It does what fastai's documentation does, with fastai's
defaults everywhere except the ones named on the command line:

    set_seed(seed, reproducible=True)
    dls = ImageDataLoaders.from_folder(DATA, train='train', valid='valid', item_tfms=Resize(size, method),
                                       bs=bs, num_workers=0, seed=seed)
    learn = vision_learner(dls, resnet18, metrics=accuracy)      # pretrained: the hub cache's resnet18-f37072fd.pth
    learn.fine_tune(epochs)
    test accuracy on DATA/test through dls.test_dl(files, with_labels=True)  (the validation transforms)

and prints one JSON line (also written to --json). The pretrained weights must be the package's, converted by
convert_weights.py (see bench/accuracy/fastai/README.md); this script refuses to run when the hub cache has no
resnet18-f37072fd.pth, since torchvision would try to download it.

--trace OUT records, for each fit of fine_tune (stage 1: frozen, fit_one_cycle(1, pct_start=0.99); stage 2:
unfrozen, fit_one_cycle(N, slice(lr/200, lr/2), div=5)), the first --trace-steps training steps (learning rate and
momentum of every parameter group, raw and smoothed loss), every parameter group's weight-decay settings (wd hyper,
parameters with do_wd off, trainable and force_train counts), which modules are in train mode at the first step, and
how far the batch norms' running statistics moved (after the first step and after the training phase); once, the head's
initial weights and every batch norm's eps and momentum. The package writes the same shape with
`MLNet.FastAi.Bench fine-tune-trace`; bench/accuracy/compare_traces.py puts the two side by side.

--pixels-out DIR writes, after everything else (so the run's random draws are unchanged), the normalized pixels fastai's
model sees for validation images: one [3, H, W] float32 .npy per image and index.json naming each by its path relative
to --data. The images are those listed by --pixels-files INDEX (the package's index.json from fine-tune-trace
--pixels-out), else the first --pixels-count of fastai's validation order; they go through dls.test_dl, i.e. the
validation transforms (Resize centred, IntToFloatTensor, the Normalize vision_learner added).

Environment (see bench/accuracy/fastai/README.md): /usr/bin/python3 with Debian's python3-torch 1.13.1 and
python3-torchvision 0.14.1, and fastai 2.7.11, fastcore 1.5.28, fastprogress 1.0.3 and fastdownload 0.0.6 sources on
PYTHONPATH.
"""
import argparse
import json
import os
import sys
import time
import warnings
from collections import Counter
from functools import partial

import torch

# Debian's torch reports 1.13.0a0; fastai 2.7.11 then skips its PyTorch-1.13 workaround (TensorBase's
# __torch_function__ for tensor formatting) and the first batch fails printing a loss. It is 1.13.1.
if torch.__version__.startswith("1.13.0a0"):
    torch.__version__ = "1.13.1"

# fastai 2.7.11 calls resnet18(pretrained=True); torchvision 0.14 maps it to ResNet18_Weights.IMAGENET1K_V1 and warns.
warnings.filterwarnings("ignore", category=UserWarning, module="torchvision.models._utils")

import torchvision  # noqa: E402
import fastai  # noqa: E402
from fastai.vision.all import (  # noqa: E402
    Callback, ImageDataLoaders, Recorder, Resize, accuracy, get_image_files, resnet18, set_seed, vision_learner)

HUB_FILE = "resnet18-f37072fd.pth"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder with train/, valid/ and test/ of class folders")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--bs", type=int, default=64)
    p.add_argument("--epochs", type=int, default=1, help="fine_tune(N): N unfrozen epochs after one frozen")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--method", choices=["crop", "squish", "pad"], default="crop", help="Resize method (fastai's default: crop)")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--json", help="also write the result line here")
    p.add_argument("--trace", help="write a step-by-step trace of both fine_tune stages here (JSON)")
    p.add_argument("--trace-steps", type=int, default=20, help="training steps traced per stage")
    p.add_argument("--pixels-out", help="write the normalized validation pixels of some images here (.npy + index.json)")
    p.add_argument("--pixels-files", help="index.json of the package's --pixels-out: dump these files (default: fastai's first)")
    p.add_argument("--pixels-count", type=int, default=8, help="images for --pixels-out without --pixels-files")
    return p.parse_args()


class EpochTable(Callback):
    """Keeps each fit's epoch table (train loss, valid loss, accuracy, time): the Recorder starts over at every fit."""
    order = Recorder.order + 1

    def __init__(self):
        self.rows = []
        self.stage = 0

    def before_fit(self):
        self.stage += 1

    def after_fit(self):
        names = [str(n) for n in self.recorder.metric_names[1:-1]]  # without 'epoch' and 'time'
        for epoch, values in enumerate(self.recorder.values):
            self.rows.append({"stage": self.stage, "epoch": epoch, **{n: float(v) for n, v in zip(names, values)}})


class StepTrace(Callback):
    """The first training steps of every fit: hyper-parameters per group, losses; group settings; module modes."""
    order = 70  # after ParamScheduler (60), which sets this step's hyper-parameters in before_batch

    def __init__(self, steps):
        self.steps = steps
        self.stages = []

    def before_fit(self):
        self.step = 0
        groups = []
        for i, (params, state) in enumerate(zip(self.opt.param_lists, _param_groups_state(self.opt))):
            groups.append({
                "group": i,
                "tensors": len(params),
                "elements": sum(p.numel() for p in params),
                "trainable_tensors": sum(p.requires_grad for p in params),
                "trainable_elements": sum(p.numel() for p in params if p.requires_grad),
                "force_train_tensors": sum(bool(s.get("force_train", False)) for s in state),
                "no_wd_tensors": sum(not s.get("do_wd", True) for s in state),
                "hypers": {k: _plain(v) for k, v in self.opt.hypers[i].items()},
            })
        self.current = {"stage": len(self.stages) + 1, "n_epoch": self.n_epoch, "n_iter": len(self.dls.train),
                        "frozen_idx": getattr(self.opt, "frozen_idx", None), "groups_at_fit_start": groups, "steps": []}
        self.stages.append(self.current)
        self.stats_at_fit_start = [(n, m.running_mean.detach().clone(), m.running_var.detach().clone())
                                   for n, m in _norm_modules(self.model)]

    def after_train(self):
        # How far the running statistics moved over the whole training phase (before validation reads them).
        self.current["bn_running_stats_after_train"] = self._stats_change()

    def _stats_change(self):
        result = {}
        for part, prefix in (("body", "0."), ("head", "1.")):
            mean_delta = var_delta = 0.0
            elements = layers = moved = 0
            for (name, m), (_, mean0, var0) in zip(_norm_modules(self.model), self.stats_at_fit_start):
                if not name.startswith(prefix):
                    continue
                dm = float((m.running_mean - mean0).abs().sum())
                dv = float((m.running_var - var0).abs().sum())
                mean_delta += dm
                var_delta += dv
                elements += mean0.numel()
                layers += 1
                moved += dm > 0 or dv > 0
            result[part] = {"layers": layers, "layers_moved": moved,
                            "mean_abs_change_running_mean": mean_delta / elements if elements else 0.0,
                            "mean_abs_change_running_var": var_delta / elements if elements else 0.0}
        return result

    def before_batch(self):
        # TrainEvalCallback advances pct_train in after_batch, before this callback's after_batch runs.
        if self.training:
            self.pct_at_step = float(self.pct_train)

    def after_batch(self):
        if not self.training or self.step >= self.steps:
            return
        if self.step == 0:
            modes = Counter((type(m).__name__, m.training) for m in self.model.modules() if not list(m.children()))
            self.current["leaf_modules_by_mode"] = [
                {"type": t, "train": mode, "count": c} for (t, mode), c in sorted(modes.items())]
            self.current["modules_in_eval_mode"] = [n for n, m in self.model.named_modules() if not m.training]
            self.current["hypers_at_first_step"] = [{k: _plain(v) for k, v in h.items()} for h in self.opt.hypers]
            self.current["bn_running_stats_after_first_step"] = self._stats_change()
            # Adam's step counter after this step: 1 when the optimizer state was cleared at the start of the fit.
            self.current["opt_step_after_first_step"] = max(
                (int(self.opt.state[p].get("step", 0)) for ps in self.opt.param_lists for p in ps), default=0)
        self.current["steps"].append({
            "step": self.step,
            "pct_train": self.pct_at_step,
            "lr": [float(h["lr"]) for h in self.opt.hypers],
            "mom": [float(h["mom"]) for h in self.opt.hypers],
            "loss": float(self.loss),
            "smooth_loss": float(self.smooth_loss),
        })
        self.step += 1


def _plain(v):
    return float(v) if isinstance(v, (int, float)) or torch.is_tensor(v) else str(v)


def _param_groups_state(opt):
    return [[opt.state[p] for p in params] for params in opt.param_lists]


def _norm_modules(model):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]


def _tensor_stats(named):
    """Shape, mean, std, min and max of each tensor (the head before training: std shows the init's fan and gain)."""
    out = []
    for name, t in named:
        v = t.detach().float()
        out.append({"name": name, "shape": list(v.shape), "mean": float(v.mean()),
                    "std": float(v.std()) if v.numel() > 1 else 0.0, "min": float(v.min()), "max": float(v.max())})
    return out


def _count(values):
    return dict(sorted(Counter(values).items()))


def dump_pixels(a, dls):
    """The normalized pixels fastai's model sees for some validation images, through the validation transforms."""
    import numpy as np
    root = os.path.abspath(a.data)
    if a.pixels_files:
        with open(a.pixels_files) as f:
            relative = [e["file"] for e in json.load(f)["files"]]
        source = f"the files of {a.pixels_files}, through dls.test_dl (the validation transforms)"
    else:
        relative = [os.path.relpath(str(p), root) for p in dls.valid_ds.items[:a.pixels_count]]
        source = "fastai's first validation images (dls.valid_ds order), through dls.test_dl (the validation transforms)"
    files = [os.path.join(root, r) for r in relative]
    dl = dls.test_dl(files, bs=len(files))  # no labels needed: the inputs are what is compared
    x = dl.one_batch()[0].as_subclass(torch.Tensor).detach().cpu().float().numpy()
    os.makedirs(a.pixels_out, exist_ok=True)
    entries = []
    for i, r in enumerate(relative):
        npy = f"{i:02d}.npy"
        np.save(os.path.join(a.pixels_out, npy), np.ascontiguousarray(x[i]))
        entries.append({"index": i, "file": r.replace(os.sep, "/"), "npy": npy, "shape": list(x[i].shape)})
    norm = [t for t in dl.after_batch.fs if type(t).__name__ == "Normalize"]
    index = {"tool": "fastai", "source": source, "data": root, "pipeline": f"Resize({a.size}, {a.method}), bilinear",
             "normalization": {"mean": norm[0].mean.flatten().tolist(), "std": norm[0].std.flatten().tolist()} if norm else None,
             "files": entries}
    with open(os.path.join(a.pixels_out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    hub = os.path.join(torch.hub.get_dir(), "checkpoints", HUB_FILE)
    if not os.path.exists(hub):
        sys.exit(f"error: {hub} is missing; write it with bench/accuracy/fastai/convert_weights.py (see README.md)")
    for split in ("train", "valid", "test"):
        if not os.path.isdir(os.path.join(a.data, split)):
            sys.exit(f"error: {a.data} has no {split}/ folder")

    started = time.perf_counter()
    set_seed(a.seed, reproducible=True)
    dls = ImageDataLoaders.from_folder(a.data, train="train", valid="valid", item_tfms=Resize(a.size, method=a.method),
                                       bs=a.bs, num_workers=0, seed=a.seed)
    learn = vision_learner(dls, resnet18, metrics=accuracy)
    head_init = _tensor_stats(list(learn.model[1].named_parameters()) +
                              [(n, b) for n, b in learn.model[1].named_buffers() if "running" in n])
    norms = [m for _, m in _norm_modules(learn.model)]
    batchnorm = {"count": len(norms), "eps_counts": _count(str(m.eps) for m in norms),
                 "momentum_counts": _count(str(m.momentum) for m in norms)}
    table = EpochTable()
    cbs = [table]
    trace = None
    if a.trace:
        trace = StepTrace(a.trace_steps)
        cbs.append(trace)
    learn.add_cbs(cbs)

    # fastai's epoch table goes to stderr, so that stdout holds only the result line.
    learn.logger = partial(print, file=sys.stderr)
    fit_started = time.perf_counter()
    with learn.no_bar():
        learn.fine_tune(a.epochs)
    fit_seconds = time.perf_counter() - fit_started
    # get_preds and validate run before_fit/after_fit too (Learner.validation_context): not a stage of fine_tune.
    learn.remove_cbs(cbs)

    test_started = time.perf_counter()
    test_files = get_image_files(os.path.join(a.data, "test"))
    test_dl = dls.test_dl(test_files, with_labels=True)  # the validation transforms (Resize centred), same vocab
    with learn.no_bar():
        preds, targs, losses = learn.get_preds(dl=test_dl, with_loss=True)
    test_accuracy = float((preds.argmax(dim=1) == targs).float().mean())
    test_seconds = time.perf_counter() - test_started

    last = table.rows[-1]
    result = {
        "tool": "fastai", "fastai": fastai.__version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
        "seed": a.seed, "method": a.method, "size": a.size, "bs": a.bs, "epochs": a.epochs, "threads": a.threads,
        "train": len(dls.train_ds), "valid": len(dls.valid_ds), "test": len(test_files), "classes": len(dls.vocab),
        "valid_accuracy": last["accuracy"], "valid_loss": last["valid_loss"], "test_accuracy": test_accuracy,
        "test_loss": float(losses.mean()),
        "seconds": round(time.perf_counter() - started, 2), "fit_seconds": round(fit_seconds, 2),
        "test_seconds": round(test_seconds, 2), "epochs_table": table.rows,
    }
    line = json.dumps(result)
    print(line)
    if a.json:
        with open(a.json, "w") as f:
            f.write(line + "\n")
    if trace is not None:
        first_files = [os.path.relpath(str(p), os.path.abspath(a.data)) for p in dls.valid_ds.items[:a.pixels_count]]
        with open(a.trace, "w") as f:
            json.dump({"run": {**{k: v for k, v in result.items() if k != "epochs_table"},
                               "valid_bs": dls.valid.bs, "valid_first_files": first_files},
                       "model_head": str(learn.model[1]), "head_init": head_init, "batchnorm": batchnorm,
                       "stages": trace.stages}, f, indent=1)
    if a.pixels_out:
        dump_pixels(a, dls)  # last: test_dl's iteration draws from the random state
    return 0


if __name__ == "__main__":
    sys.exit(main())
