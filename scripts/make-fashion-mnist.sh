#!/usr/bin/env bash
# Converts Fashion-MNIST (Zalando Research, MIT licence) from Debian's dataset-fashion-mnist package into
# fastai's mnist_png layout: DIR/training/<class>/<n>.png (60,000) and DIR/testing/<class>/<n>.png (10,000),
# with class folders T-shirt_top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle_boot
# and <n> the image's index in its IDX file.
#
#   scripts/make-fashion-mnist.sh DIR
#
# Installs the Debian package with apt-get when it is missing (as root, or through sudo). The output is for
# benchmarks and examples; it is not committed.
set -euo pipefail

if [[ $# -ne 1 ]]; then sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$1"
idx="/usr/share/datasets/fashion-mnist"

if ! dpkg-query -W -f='${Status}' dataset-fashion-mnist 2>/dev/null | grep -q "install ok installed"; then
  echo "Installing Debian package dataset-fashion-mnist ..."
  sudo_if_needed=()
  [[ "$(id -u)" -eq 0 ]] || sudo_if_needed=(sudo)
  "${sudo_if_needed[@]}" apt-get install -y dataset-fashion-mnist
fi
if [[ ! -d "$idx" ]]; then
  echo "error: dataset-fashion-mnist is installed but '$idx' is missing; see 'dpkg -L dataset-fashion-mnist'." >&2
  exit 1
fi

dotnet run --project "$repo/scripts/MnistSampleMaker" -c Release -- fashion-idx "$idx" "$out"
