#!/usr/bin/env bash
# The package and the real fastai 2.7.11 on the same train/valid/test folder, seed by seed, one run at a time:
# fine_tune(EPOCHS) from the same ImageNet ResNet-18 weights, then test accuracy. One JSON line per run goes to OUT.
#
#   bench/accuracy/side-by-side.sh DATA OUT [--epochs 1] [--size 224] [--bs 64] [--seeds "1 2 3"] [--sides "package fastai"]
#                                           [--method crop] [--item-size N]
#
# DATA holds train/, valid/ and test/ of class folders (bench/accuracy/make-fashion-split.sh, or photos-make with a
# test/ folder). fastai needs the setup of bench/accuracy/fastai/README.md; the package side runs the mlnet-fastai CLI
# (built Release here, once). Runs are sequential: this machine has 2 cores.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ $# -lt 2 ]]; then sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; fi
data="$1" out="$2"; shift 2
epochs=1 size=224 bs=64 seeds="1 2 3" sides="package fastai" method=crop item=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --epochs) epochs="$2";; --size) size="$2";; --bs) bs="$2";; --seeds) seeds="$2";; --sides) sides="$2";;
    --method) method="$2";; --item-size) item="$2";;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
  shift 2
done

cli_dll="$repo/src/MLNet.FastAi.Cli/bin/Release/net10.0/mlnet-fastai.dll"
if [[ " $sides " == *" package "* && ! -f "$cli_dll" ]]; then dotnet build "$repo/src/MLNet.FastAi.Cli" -c Release -v q >&2; fi
cli() { dotnet "$cli_dll" "$@"; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

for seed in $seeds; do
  for side in $sides; do
    started=$(date +%s.%N)
    if [[ "$side" == fastai ]]; then
      [[ -z "$item" ]] || { echo "--item-size: fastai_run.py has no presizing" >&2; exit 2; }
      ( . "$repo/bench/accuracy/fastai/env.sh"
        /usr/bin/python3 "$repo/bench/accuracy/fastai/fastai_run.py" --data "$data" --size "$size" --bs "$bs" --epochs "$epochs" \
          --seed "$seed" --method "$method" --threads 2 --json "$work/fastai.json" >/dev/null 2>"$work/fastai.log" ) || { cat "$work/fastai.log" >&2; exit 1; }
      python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({"side":"fastai","data":sys.argv[2],"seed":r["seed"],"epochs":r["epochs"],"size":r["size"],"bs":r["bs"],"method":r["method"],"valid_accuracy":r["valid_accuracy"],"test_accuracy":r["test_accuracy"],"seconds":round(r["seconds"],1)}))' \
        "$work/fastai.json" "$data" >> "$out"
    else
      cli train "$data" --train train --valid valid --image-size "$size" --batch-size "$bs" --epochs "$epochs" --seed "$seed" \
        --resize "$method" ${item:+--item-size "$item"} --out "$work/model.zip" --cache-dir "$work/cache" > "$work/train.log" 2>&1 || { cat "$work/train.log" >&2; exit 1; }
      cli evaluate "$work/model.zip" "$data/test" > "$work/eval.log" 2>&1 || { cat "$work/eval.log" >&2; exit 1; }
      valid=$(grep -oiE "accuracy[^0-9]*[0-9]+\.[0-9]+" "$work/train.log" | tail -1 | grep -oE "[0-9]+\.[0-9]+$")
      test=$(grep -m1 -oiE "^accuracy[^0-9]*[0-9]+\.[0-9]+" "$work/eval.log" | grep -oE "[0-9]+\.[0-9]+$")
      seconds=$(python3 -c "import time; print(round(time.time()-$started,1))")
      echo "{\"side\":\"package\",\"data\":\"$data\",\"seed\":$seed,\"epochs\":$epochs,\"size\":$size,\"bs\":$bs,\"method\":\"$method\",\"item_size\":\"$item\",\"valid_accuracy\":$valid,\"test_accuracy\":$test,\"seconds\":$seconds}" >> "$out"
    fi
    tail -1 "$out"
  done
done
