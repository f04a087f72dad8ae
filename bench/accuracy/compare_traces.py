#!/usr/bin/python3
"""Side by side: the real fastai's fine_tune trace and the package's, stage by stage.

    compare_traces.py --fastai FA.json --package PK.json [--steps N] [--fastai-pixels DIR --package-pixels DIR
                      [--data DIR] [--features]]

FA.json comes from bench/accuracy/fastai/fastai_run.py --trace, PK.json from
`MLNet.FastAi.Bench fine-tune-trace --out`; both have the same shape (run, model_head, head_init, batchnorm, and per
stage: groups_at_fit_start, steps, leaf_modules_by_mode, modules_in_eval_mode, hypers_at_first_step,
bn_running_stats_*). The pixel folders come from the two tools' --pixels-out (one [3, H, W] .npy per image and an
index.json naming each by its path relative to the data folder); images are matched by that path.

--data (the folder both ran on) also resamples each square source image with PIL's bilinear filter and with a
Mitchell-Netravali cubic (B = C = 1/3, half-pixel centres, edges clamped) and says how far each tool's pixels are from
each: which filter each side uses. --features (torchvision and the hub's resnet18-f37072fd.pth, as fastai_run.py)
passes both sides' pixels through the same pretrained body and compares the concat-pooled features the head sees.

Prints plain-text tables; '≠' marks a value that differs (relative difference above 1e-6 for numbers). What cannot
match by construction: losses (the heads start from different random draws and the batches are shuffled by different
generators), and the module class names (the package's head uses functional pooling, ReLU and flatten).
"""
import argparse
import json
import math
import os
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fastai", required=True, help="fastai_run.py --trace output")
    p.add_argument("--package", required=True, help="MLNet.FastAi.Bench fine-tune-trace --out output")
    p.add_argument("--steps", type=int, default=None, help="steps to list per stage (default: all traced)")
    p.add_argument("--fastai-pixels", help="fastai_run.py --pixels-out folder")
    p.add_argument("--package-pixels", help="fine-tune-trace --pixels-out folder")
    p.add_argument("--data", help="the data folder of both runs: identify each side's resampling filter")
    p.add_argument("--features", action="store_true", help="compare the pretrained body's pooled features of both pixel sets")
    return p.parse_args()


def same(a, b, rel=1e-6):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        if a == b:
            return True
        if math.isnan(a) and math.isnan(b):
            return True
        return abs(a - b) <= rel * max(abs(a), abs(b))
    return a == b


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def table(title, header, rows):
    """rows: lists of cells; a cell may be a (fastai, package) pair, printed 'fa | pk' with '≠' when they differ."""
    cells = []
    for row in rows:
        out = []
        for c in row:
            if isinstance(c, tuple):
                a, b = c
                out.append(f"{fmt(a)} | {fmt(b)}" + ("" if same(a, b) else " ≠"))
            else:
                out.append(fmt(c))
        cells.append(out)
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  " + "  ".join("-" * w for w in widths))
    for r in cells:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)))


def run_section(fa, pk):
    keys = ["seed", "method", "size", "bs", "valid_bs", "epochs", "threads", "train", "valid", "classes",
            "valid_accuracy", "valid_loss", "fit_seconds"]
    table("Run (fastai | package)", ["setting", "fastai | package"],
          [[k, (fa["run"].get(k), pk["run"].get(k))] for k in keys])
    print(f"\n  versions: fastai {fa['run'].get('fastai')}, torch {fa['run'].get('torch')}, torchvision "
          f"{fa['run'].get('torchvision')} | package {pk['run'].get('package')}, {pk['run'].get('torch')}")
    ff, pf = fa["run"].get("valid_first_files", []), pk["run"].get("valid_first_files", [])
    if ff or pf:
        table("First validation files (order of the validation set)", ["#", "fastai | package"],
              [[i, (a, b)] for i, (a, b) in enumerate(zip(ff, pf))])


def groups_section(fs, ps, stage):
    rows = []
    for gf, gp in zip(fs["groups_at_fit_start"], ps["groups_at_fit_start"]):
        rows.append([gf["group"], (gf["elements"], gp["elements"]), (gf["tensors"], gp["tensors"]),
                     (gf["trainable_tensors"], gp["trainable_tensors"]), (gf["trainable_elements"], gp["trainable_elements"]),
                     (gf["force_train_tensors"], gp["force_train_tensors"]), (gf["no_wd_tensors"], gp["no_wd_tensors"])])
    table(f"Stage {stage}: parameter groups at fit start (frozen_idx {fs.get('frozen_idx')} | {ps.get('frozen_idx')}, "
          f"n_iter {fs.get('n_iter')} | {ps.get('n_iter')})",
          ["group", "elements", "tensors", "trainable tensors", "trainable elements", "force_train", "no wd"], rows)
    rows = []
    for gf, gp in zip(fs["groups_at_fit_start"], ps["groups_at_fit_start"]):
        hf, hp = gf["hypers"], gp["hypers"]
        rows.append([gf["group"]] + [(hf.get(k), hp.get(k)) for k in ("lr", "mom", "sqr_mom", "eps", "wd")])
    table(f"Stage {stage}: hyper-parameters at fit start (before the scheduler's first step)",
          ["group", "lr", "mom", "sqr_mom", "eps", "wd"], rows)
    rows = []
    for i, (hf, hp) in enumerate(zip(fs.get("hypers_at_first_step", []), ps.get("hypers_at_first_step", []))):
        rows.append([i] + [(hf.get(k), hp.get(k)) for k in ("lr", "mom", "sqr_mom", "eps", "wd")])
    table(f"Stage {stage}: hyper-parameters at the first step", ["group", "lr", "mom", "sqr_mom", "eps", "wd"], rows)


def steps_section(fs, ps, stage, limit):
    sf, sp = fs["steps"], ps["steps"]
    n = min(len(sf), len(sp)) if limit is None else min(len(sf), len(sp), limit)
    groups = len(sf[0]["lr"]) if sf else 0
    header = ["step", "pct_train"] + [f"lr g{g}" for g in range(groups)] + ["mom (all groups)", "loss", "smooth loss"]
    rows = []
    worst_lr = worst_mom = 0.0
    for i in range(n):
        a, b = sf[i], sp[i]
        for g in range(groups):
            worst_lr = max(worst_lr, abs(a["lr"][g] - b["lr"][g]) / max(abs(a["lr"][g]), 1e-30))
            worst_mom = max(worst_mom, abs(a["mom"][g] - b["mom"][g]))
        mom_f = a["mom"][0] if len(set(a["mom"])) == 1 else str(a["mom"])
        mom_p = b["mom"][0] if len(set(b["mom"])) == 1 else str(b["mom"])
        rows.append([i, (a["pct_train"], b["pct_train"])] + [(a["lr"][g], b["lr"][g]) for g in range(groups)] +
                    [(mom_f, mom_p), (a["loss"], b["loss"]), (a["smooth_loss"], b["smooth_loss"])])
    table(f"Stage {stage}: first {n} training steps (traced {len(sf)} | {len(sp)})", header, rows)
    print(f"  schedule: max relative lr difference {worst_lr:.2e}, max |mom difference| {worst_mom:.2e} over these steps")
    if n:
        lf = [s["loss"] for s in sf[:n]]
        lp = [s["loss"] for s in sp[:n]]
        print(f"  raw loss: first {lf[0]:.4f} | {lp[0]:.4f}; mean of these steps {sum(lf) / n:.4f} | {sum(lp) / n:.4f} "
              "(differs by construction: other head draws, other batches)")


def modes_section(fs, ps, stage):
    def counts(s):
        return {(m["type"], m["train"]): m["count"] for m in s.get("leaf_modules_by_mode", [])}
    cf, cp = counts(fs), counts(ps)
    print(f"\nStage {stage}: leaf modules by mode at the first step (fastai | package)")
    print("  fastai : " + ", ".join(f"{t}{'' if tr else ' [eval]'}×{c}" for (t, tr), c in sorted(cf.items())))
    print("  package: " + ", ".join(f"{t}{'' if tr else ' [eval]'}×{c}" for (t, tr), c in sorted(cp.items())))
    ef, ep = fs.get("modules_in_eval_mode", []), ps.get("modules_in_eval_mode", [])
    print(f"  modules in eval mode: {len(ef)} | {len(ep)}" + ("" if not (ef or ep) else f"  ({ef[:5]} | {ep[:5]})"))
    of, op = fs.get("opt_step_after_first_step"), ps.get("opt_step_after_first_step")
    print(f"  optimizer step count after the first step: {fmt(of)} | {fmt(op)}" + ("" if same(of, op) else " ≠") +
          " (1: the moment state was cleared when the fit began)")
    rows = []
    for when in ("bn_running_stats_after_first_step", "bn_running_stats_after_train"):
        for part in ("body", "head"):
            a, b = fs.get(when, {}).get(part), ps.get(when, {}).get(part)
            if a is None or b is None:
                continue
            rows.append([when.replace("bn_running_stats_", ""), part, (a["layers"], b["layers"]),
                         (a["layers_moved"], b["layers_moved"]),
                         (a["mean_abs_change_running_mean"], b["mean_abs_change_running_mean"]),
                         (a["mean_abs_change_running_var"], b["mean_abs_change_running_var"])])
    if rows:
        table(f"Stage {stage}: batch-norm running statistics since fit start (mean |Δ| per channel)",
              ["when", "part", "layers", "layers moved", "running_mean", "running_var"], rows)


def head_section(fa, pk):
    print("\nHead (fastai):")
    print("  " + fa.get("model_head", "-").replace("\n", "\n  "))
    print("Head (package):")
    print("  " + pk.get("model_head", "-").replace("\n", "\n  "))
    hf, hp = fa.get("head_init", []), pk.get("head_init", [])
    params_f = [t for t in hf if "running" not in t["name"]]
    params_p = [t for t in hp if "running" not in t["name"]]
    rows = []
    for a, b in zip(params_f, params_p):
        expected = ""
        if len(a["shape"]) == 2:  # kaiming_normal_, fan_in, gain √2
            expected = f"{math.sqrt(2.0 / a['shape'][1]):.5f}"
        rows.append([f"{a['name']} | {b['name']}", (str(a["shape"]), str(b["shape"])), (a["mean"], b["mean"]),
                     (a["std"], b["std"]), expected, (a["min"], b["min"]), (a["max"], b["max"])])
    table("Head parameters before training (stage 1 start)", ["fastai | package", "shape", "mean", "std", "kaiming std", "min", "max"], rows)
    if len(params_f) != len(params_p):
        print(f"  parameter count differs: {len(params_f)} | {len(params_p)}")
    bf, bp = fa.get("batchnorm", {}), pk.get("batchnorm", {})
    table("Batch norms (whole model)", ["what", "fastai | package"],
          [["count", (bf.get("count"), bp.get("count"))], ["eps", (str(bf.get("eps_counts")), str(bp.get("eps_counts")))],
           ["momentum", (str(bf.get("momentum_counts")), str(bp.get("momentum_counts")))]])


def _cubic_weights(n_in, n_out, b=1 / 3, c=1 / 3):
    """Resampling matrix [n_out, n_in] of a Mitchell-Netravali cubic (upscaling: no widening), half-pixel centres."""
    import numpy as np

    def k(x):
        x = abs(x)
        if x < 1:
            return ((12 - 9 * b - 6 * c) * x ** 3 + (-18 + 12 * b + 6 * c) * x ** 2 + (6 - 2 * b)) / 6
        if x < 2:
            return ((-b - 6 * c) * x ** 3 + (6 * b + 30 * c) * x ** 2 + (-12 * b - 48 * c) * x + (8 * b + 24 * c)) / 6
        return 0.0
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        centre = (o + 0.5) * n_in / n_out - 0.5
        for i in range(int(math.floor(centre)) - 1, int(math.floor(centre)) + 3):
            m[o, min(max(i, 0), n_in - 1)] += k(centre - i)
        m[o] /= m[o].sum()
    return m


def filter_section(data, fa_dir, fi, pk_dir, pi, common, mean, std):
    """Mean |Δ| (grey levels) of each side's pixels from PIL bilinear and from a Mitchell cubic of the source image."""
    import numpy as np
    from PIL import Image
    ff = {e["file"]: e for e in fi["files"]}
    pf = {e["file"]: e for e in pi["files"]}
    errors = {}
    for name in common:
        src = Image.open(os.path.join(data, name)).convert("RGB")
        if src.width != src.height:
            continue  # crop geometry would differ between the tools; square sources only
        fa_px = np.load(os.path.join(fa_dir, ff[name]["npy"])).astype(np.float64) * std + mean
        pk_px = np.load(os.path.join(pk_dir, pf[name]["npy"])).astype(np.float64) * std + mean
        h, w = fa_px.shape[1:]
        bilinear = np.asarray(src.resize((w, h), Image.BILINEAR), dtype=np.float64).transpose(2, 0, 1)
        rows, cols = _cubic_weights(src.height, h), _cubic_weights(src.width, w)
        rgb = np.asarray(src, dtype=np.float64).transpose(2, 0, 1)
        mitchell = np.clip(np.round(np.einsum("oi,cij,pj->cop", rows, rgb, cols)), 0, 255)
        for tool, px in (("fastai", fa_px), ("package", pk_px)):
            for fname, ref in (("PIL bilinear", bilinear), ("Mitchell cubic", mitchell)):
                errors.setdefault((tool, fname), []).append(float(np.abs(px * 255 - ref).mean()))
    if errors:
        table("Which resampling filter reproduces each side (mean |Δ| in grey levels over the square common images)",
              ["tool", "PIL bilinear", "Mitchell cubic (B=C=1/3)"],
              [[tool, sum(errors[(tool, "PIL bilinear")]) / len(errors[(tool, "PIL bilinear")]),
                sum(errors[(tool, "Mitchell cubic")]) / len(errors[(tool, "Mitchell cubic")])] for tool in ("fastai", "package")])


def features_section(fa_dir, fi, pk_dir, pi, common):
    """The pretrained body's concat-pooled features ([max, avg] of layer4) of both pixel sets, as the head sees them."""
    import numpy as np
    import torch
    import torchvision
    hub = os.path.join(torch.hub.get_dir(), "checkpoints", "resnet18-f37072fd.pth")
    if not os.path.exists(hub):
        print(f"\n  --features: {hub} is missing (bench/accuracy/fastai/README.md)")
        return
    ff = {e["file"]: e for e in fi["files"]}
    pf = {e["file"]: e for e in pi["files"]}
    model = torchvision.models.resnet18()
    model.load_state_dict(torch.load(hub))
    body = torch.nn.Sequential(*list(model.children())[:-2]).eval()
    fa_x = torch.tensor(np.stack([np.load(os.path.join(fa_dir, ff[n]["npy"])) for n in common]))
    pk_x = torch.tensor(np.stack([np.load(os.path.join(pk_dir, pf[n]["npy"])) for n in common]))
    with torch.no_grad():
        def pooled(x):
            b = body(x)
            return torch.cat([b.amax((2, 3)), b.mean((2, 3))], 1)
        fa_f, pk_f = pooled(fa_x), pooled(pk_x)
    rel = (pk_f - fa_f).norm(dim=1) / fa_f.norm(dim=1)
    cos = torch.nn.functional.cosine_similarity(pk_f, fa_f)
    ref = (fa_f[1:] - fa_f[:-1]).norm(dim=1) / fa_f[:-1].norm(dim=1)
    table("Pretrained body (eval), concat-pooled features of fastai's vs the package's pixels",
          ["file", "|f_pk − f_fa| / |f_fa|", "cosine"], [[n, float(r), float(c)] for n, r, c in zip(common, rel, cos)])
    print(f"  mean relative difference {float(rel.mean()):.4f}; for scale, between consecutive images of this list "
          f"(fastai's pixels) {float(ref.mean()):.4f}")


def pixels_section(fa_dir, pk_dir, data=None, features=False):
    import numpy as np
    with open(os.path.join(fa_dir, "index.json")) as f:
        fi = json.load(f)
    with open(os.path.join(pk_dir, "index.json")) as f:
        pi = json.load(f)
    ff = {e["file"]: e for e in fi["files"]}
    pf = {e["file"]: e for e in pi["files"]}
    common = [e["file"] for e in pi["files"] if e["file"] in ff]
    print(f"\nPixels: fastai {fi.get('pipeline')} | package {pi.get('pipeline')}; {len(common)} common file(s) "
          f"of {len(ff)} | {len(pf)}")
    if fi.get("normalization") != pi.get("normalization"):
        print(f"  normalization differs: {fi.get('normalization')} | {pi.get('normalization')}")
    std = np.array((pi.get("normalization") or {}).get("std", [1, 1, 1]), dtype=np.float64).reshape(3, 1, 1)
    rows = []
    all_abs = []
    for name in common:
        a = np.load(os.path.join(fa_dir, ff[name]["npy"])).astype(np.float64)
        b = np.load(os.path.join(pk_dir, pf[name]["npy"])).astype(np.float64)
        if a.shape != b.shape:
            rows.append([name, (str(list(a.shape)), str(list(b.shape))), "-", "-", "-", "-", "-"])
            continue
        d = np.abs(a - b)
        levels = d * std * 255  # back to 0..255 steps of the resized image
        corr = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
        all_abs.append(levels)
        rows.append([name, str(list(a.shape)), float(d.max()), float(d.mean()), float(levels.max()), float(levels.mean()),
                     f"{100 * float((levels > 0.5).mean()):.1f}%", f"{corr:.5f}", (float(a.mean()), float(b.mean()))])
    table("Normalized pixels, fastai − package (per image)",
          ["file", "shape", "max |Δ|", "mean |Δ|", "max |Δ| /255", "mean |Δ| /255", "> 0.5 level", "corr", "mean"], rows)
    if all_abs:
        allv = np.concatenate([x.ravel() for x in all_abs])
        print(f"  all common images: max |Δ| {allv.max():.2f} and mean |Δ| {allv.mean():.3f} grey levels (0..255); "
              f"{100 * (allv > 0.5).mean():.1f}% of values differ by more than half a level")
    mean = np.array((pi.get("normalization") or {}).get("mean", [0, 0, 0]), dtype=np.float64).reshape(3, 1, 1)
    if data:
        filter_section(data, fa_dir, fi, pk_dir, pi, common, mean, std)
    if features and common:
        features_section(fa_dir, fi, pk_dir, pi, common)


def main():
    a = parse_args()
    with open(a.fastai) as f:
        fa = json.load(f)
    with open(a.package) as f:
        pk = json.load(f)
    print(f"fastai trace: {a.fastai}\npackage trace: {a.package}")
    run_section(fa, pk)
    head_section(fa, pk)
    for fs, ps in zip(fa["stages"], pk["stages"]):
        stage = fs["stage"]
        groups_section(fs, ps, stage)
        modes_section(fs, ps, stage)
        steps_section(fs, ps, stage, a.steps)
    if len(fa["stages"]) != len(pk["stages"]):
        print(f"\nstages differ in number: {len(fa['stages'])} | {len(pk['stages'])}")
    if a.fastai_pixels and a.package_pixels:
        pixels_section(a.fastai_pixels, a.package_pixels, a.data, a.features)
    return 0


if __name__ == "__main__":
    sys.exit(main())
