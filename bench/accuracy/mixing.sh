#!/usr/bin/env bash
# fastai's MixUp and CutMix against plain training, at equal epochs and seeds, through the tool's own door:
# mlnet-fastai train DATA --train train --valid valid --test test ... [--mixup | --cutmix], one JSON line per run.
#
#   bench/accuracy/mixing.sh DATA SIZE EPOCHS "SEEDS" > results.jsonl
#
# DATA comes from bench/accuracy/make-fashion-split.sh (e.g. K=250 T=100 -> 2000/500/1000 images of 28 px, upscaled
# to SIZE). fine_tune(EPOCHS) from ImageNet weights, batch 64. Build the tool first: dotnet build src/MLNet.FastAi.Cli -c Release.
set -euo pipefail
[[ $# -eq 4 ]] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
data="$1" size="$2" epochs="$3" seeds="$4"
tool=(dotnet "$(dirname "$0")/../../src/MLNet.FastAi.Cli/bin/Release/net10.0/mlnet-fastai.dll")
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for seed in $seeds; do
  for mix in plain mixup cutmix; do
    flag=(); [[ "$mix" == plain ]] || flag=("--$mix")
    log="$("${tool[@]}" train "$data" --train train --valid valid --test test --image-size "$size" --epochs "$epochs" --seed "$seed" \
             --out "$out/model.zip" "${flag[@]}" 2>&1)"
    valid=$(grep -o 'Validation accuracy: [0-9.]*' <<<"$log" | grep -o '[0-9.]*$')
    test=$(grep -o 'Test accuracy: [0-9.]*' <<<"$log" | grep -o '[0-9.]*$')
    seconds=$(grep -o 'trained in [0-9.]* s' <<<"$log" | grep -o '[0-9.]*')
    echo "{\"mixing\":\"$mix\",\"seed\":$seed,\"size\":$size,\"epochs\":$epochs,\"valid\":$valid,\"test\":$test,\"seconds\":$seconds}"
  done
done
