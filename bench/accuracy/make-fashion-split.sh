#!/usr/bin/env bash
# A small labelled split of Fashion-MNIST for accuracy runs of the package and of the real fastai side by side:
# OUT/train/<class>/ and OUT/valid/<class>/ from the first K training images of each class (by their index in the
# IDX file; the first 80% to train/, the rest to valid/), and OUT/test/<class>/ from the first T test images of each
# class. The same folder feeds both (fastai: ImageDataLoaders.from_folder(OUT) and a test set from OUT/test).
#
#   bench/accuracy/make-fashion-split.sh SRC OUT K T [--link]
#
# SRC is the folder scripts/make-fashion-mnist.sh writes (SRC/training/<class>/<n>.png, SRC/testing/...).
# Copies by default (a few MB); --link makes symbolic links instead. OUT is replaced.
# Examples: K=100 T=50 -> /tmp/fm1k (800/200/500), K=400 T=100 -> /tmp/fm4k (3200/800/1000).
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -eq 4 || $# -eq 5 ]] || usage
src="$1" out="$2" k="$3" t="$4" link="${5:-}"
[[ "$k" =~ ^[0-9]+$ && "$t" =~ ^[0-9]+$ && "$k" -ge 2 && "$t" -ge 1 ]] || usage
[[ -z "$link" || "$link" == "--link" ]] || usage
[[ -d "$src/training" && -d "$src/testing" ]] || { echo "error: '$src' has no training/ and testing/; run scripts/make-fashion-mnist.sh $src" >&2; exit 1; }

n_train=$(( k * 8 / 10 ))           # 80/20 by index: the first n_train of the K to train/
src="$(cd "$src" && pwd)"
rm -rf "$out"

place() {  # place FILE DEST_DIR
  if [[ -n "$link" ]]; then ln -s "$1" "$2/"; else cp "$1" "$2/"; fi
}

for class_dir in "$src"/training/*/; do
  class="$(basename "$class_dir")"
  mkdir -p "$out/train/$class" "$out/valid/$class" "$out/test/$class"
  # File names are the images' indices in the IDX file: sort numerically, not as text.
  mapfile -t train < <(ls "$class_dir" | sort -n | head -n "$k")
  [[ ${#train[@]} -eq "$k" ]] || { echo "error: $class has only ${#train[@]} training images, fewer than K=$k" >&2; exit 1; }
  for i in "${!train[@]}"; do
    if (( i < n_train )); then place "$class_dir${train[$i]}" "$out/train/$class"; else place "$class_dir${train[$i]}" "$out/valid/$class"; fi
  done
  mapfile -t test < <(ls "$src/testing/$class" | sort -n | head -n "$t")
  [[ ${#test[@]} -eq "$t" ]] || { echo "error: $class has only ${#test[@]} test images, fewer than T=$t" >&2; exit 1; }
  for f in "${test[@]}"; do place "$src/testing/$class/$f" "$out/test/$class"; done
done

count() { find "$out/$1" -name '*.png' | wc -l; }
echo "$out: train $(count train), valid $(count valid), test $(count test) images in $(ls "$out/train" | wc -l) classes"
