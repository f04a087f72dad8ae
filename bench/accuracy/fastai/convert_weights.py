#!/usr/bin/python3
"""Turn the package's pretrained resnet18 body into torchvision's resnet18 checkpoint, for the real fastai.

fastai's vision_learner(dls, resnet18) loads torchvision's ImageNet weights, resnet18-f37072fd.pth, from the torch hub
cache; it cannot be downloaded here, and it would not be the package's starting point anyway. This writes that file
from the folder that

    MLNet.FastAi.Bench export-torchvision-resnet18 --out DIR

writes (one .npy per tensor under torchvision's names, plus index.json), so both sides fine-tune the very same
ImageNet weights (ML.NET's ResNet18.onnx, CNTK's 3rd block of the last stage dropped, ImageNet stats folded into the
stem). It then loads the checkpoint the way torchvision does for fastai (ResNet18_Weights.IMAGENET1K_V1 from the hub
cache) and compares torchvision's pooled 512 features on the exported input batch with the package's.

    /usr/bin/python3 bench/accuracy/fastai/convert_weights.py --export DIR [--out ~/.cache/torch/hub/checkpoints/...]

torchvision's checkpoint also holds the 1000-class classifier (fc.*), which the ONNX model does not have; fastai cuts
it off (create_body keeps children[:-2]) and torchvision's strict load only needs it present, so it is written as
zeros. Exits 1 when the features differ by more than --tolerance (relative to the largest feature).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torchvision

HUB_FILE = "resnet18-f37072fd.pth"  # the name in torchvision's ResNet18_Weights.IMAGENET1K_V1 url


def default_out():
    return os.path.join(torch.hub.get_dir(), "checkpoints", HUB_FILE)


def load_state_dict(folder):
    with open(os.path.join(folder, "index.json")) as f:
        index = json.load(f)
    state = {}
    for t in index["tensors"]:
        array = np.load(os.path.join(folder, t["file"]), allow_pickle=False)
        if list(array.shape) != t["shape"]:
            sys.exit(f"{t['file']}: shape {array.shape}, index says {t['shape']}")
        state[t["name"]] = torch.from_numpy(array.copy())
    return index, state


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--export", required=True, help="folder written by export-torchvision-resnet18")
    p.add_argument("--out", default=default_out(), help=f"checkpoint to write (default: the hub cache's {HUB_FILE})")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest accepted max|diff| / max|feature|")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    index, body = load_state_dict(a.export)
    reference = torchvision.models.resnet18()
    expected = reference.state_dict()
    missing = [k for k in expected if k not in body and not k.startswith("fc.")]
    unexpected = [k for k in body if k not in expected]
    if missing or unexpected:
        sys.exit(f"names do not match torchvision's resnet18: missing {missing}, unexpected {unexpected}")
    for k, v in body.items():
        if v.shape != expected[k].shape or v.dtype != expected[k].dtype:
            sys.exit(f"{k}: {tuple(v.shape)} {v.dtype}, torchvision has {tuple(expected[k].shape)} {expected[k].dtype}")
    state = {k: body[k] if k in body else torch.zeros_like(v) for k, v in expected.items()}  # torchvision's order

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    torch.save(state, a.out)
    print(f"wrote {a.out}: {len(state)} tensors ({len(body)} from the package, fc.* zeros)")

    # Load it the way fastai does: torchvision's pretrained weights, read from the hub cache when --out is there.
    if os.path.abspath(a.out) == os.path.abspath(default_out()):
        model = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.IMAGENET1K_V1)
        how = "ResNet18_Weights.IMAGENET1K_V1 from the hub cache"
    else:
        model = torchvision.models.resnet18()
        model.load_state_dict(torch.load(a.out))
        how = a.out
    model.fc = torch.nn.Identity()
    model.eval()

    check = index["check"]
    x = torch.from_numpy(np.load(os.path.join(a.export, check["input"]["file"])))
    package = torch.from_numpy(np.load(os.path.join(a.export, check["features"]["file"]))).double()
    with torch.no_grad():
        f32 = model(x).double()
        f64 = model.double()(x.double())
    scale = package.abs().max().item()
    result = {
        "loaded": how,
        "input": list(x.shape),
        "features": list(package.shape),
        "max_abs_feature": scale,
        "float32": {"max_abs_diff": (f32 - package).abs().max().item(),
                    "max_rel_diff": (f32 - package).abs().max().item() / scale,
                    "mean_abs_diff": (f32 - package).abs().mean().item()},
        "float64": {"max_abs_diff": (f64 - package).abs().max().item(),
                    "max_rel_diff": (f64 - package).abs().max().item() / scale,
                    "mean_abs_diff": (f64 - package).abs().mean().item()},
        "argmax_agree": bool((f32.argmax(1) == package.argmax(1)).all()),
    }
    ok = result["float32"]["max_rel_diff"] <= a.tolerance
    result["ok"] = ok
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
