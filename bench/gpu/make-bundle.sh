#!/usr/bin/env bash
# Builds .gpu/bench-bundle.tar.xz for the lent GPU machine (no .NET there; PyTorch with CUDA under python3):
#   app/        MLNet.FastAi.Bench published self-contained for linux-x64 with -p:FastAiTorchBackend=none, so no
#               libtorch travels: at run time MLNET_FASTAI_LIBTORCH points it at PyTorch's torch/lib. TorchSharp's
#               bridge libLibTorchSharp.so is in it; the package patches a copy of it at load time into
#               MLNET_FASTAI_NATIVE_CACHE (default ~/.cache/mlnet-fastai/native), which must be writable there.
#               Left out to stay under 40 MB: ONNX Runtime (so `predict` does not run from the bundle), the 63 MB
#               ImageNet ResNet-18 (so no --pretrained there; throughput does not depend on weights) and debugger parts.
#   mnist10k/   the 10,000 MNIST digits as PNGs (training/ and testing/), made by scripts/make-mnist-sample.sh --all
#   run-on-gpu.sh, pytorch_baseline.py
#
#   bench/gpu/make-bundle.sh [MNIST_FOLDER]     (default /tmp/mnist10k; generated there when missing)
#
# Then on the GPU machine, from the repository root with .gpu/ carried along: bash bench/gpu/run-on-gpu.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mnist="${1:-/tmp/mnist10k}"
max_mb=40
out="$repo/.gpu"
bundle="$out/bench-bundle.tar.xz"

if [[ ! -d "$mnist/training" || ! -d "$mnist/testing" ]]; then
  echo "Making the 10,000-digit MNIST folder in $mnist ..."
  bash "$repo/scripts/make-mnist-sample.sh" --all "$mnist"
fi
pngs=$(find "$mnist" -name '*.png' | wc -l)
if [[ "$pngs" -ne 10000 ]]; then
  echo "error: $mnist holds $pngs PNGs, not the 10,000 of scripts/make-mnist-sample.sh --all; remove it and rerun." >&2
  exit 1
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
echo "Publishing the bench (linux-x64, self-contained, no libtorch) ..."
# A separate artifacts folder keeps this backend-less restore from replacing the normal build's assets.
dotnet publish "$repo/bench/MLNet.FastAi.Bench/MLNet.FastAi.Bench.csproj" -c Release -r linux-x64 --self-contained true \
  -p:FastAiTorchBackend=none \
  --artifacts-path "$stage/artifacts" -o "$stage/bundle/app" -nologo -v:quiet

app="$stage/bundle/app"
if [[ ! -f "$app/libLibTorchSharp.so" ]]; then
  echo "error: libLibTorchSharp.so is missing from the published app; TorchSharp's native bridge must travel." >&2
  exit 1
fi
if compgen -G "$app/libtorch*.so*" > /dev/null || [[ -e "$app/libc10.so" ]]; then
  echo "error: a libtorch was published ($(cd "$app" && ls libtorch*.so* libc10.so 2>/dev/null | tr '\n' ' ')); the GPU machine brings its own." >&2
  exit 1
fi

# ML.NET's ResNet-18 package copies its ONNX files through the project reference; the GPU runs need none of these.
rm -rf "$app/DnnImageModels"
rm -f "$app"/libonnxruntime*.so "$app/createdump" "$app/libmscordaccore.so" "$app/libmscordbi.so" "$app"/*.dbg "$app"/*.xml

cp -r "$mnist" "$stage/bundle/mnist10k"
cp "$repo/bench/gpu/run-on-gpu.sh" "$repo/bench/gpu/pytorch_baseline.py" "$stage/bundle/"
git -C "$repo" rev-parse HEAD > "$stage/bundle/COMMIT" 2>/dev/null || true

mkdir -p "$out"
echo "Compressing ($(du -sh "$stage/bundle" | cut -f1) unpacked) ..."
tar -C "$stage" -cf - bundle | xz -9 -T2 > "$bundle.tmp"
mv "$bundle.tmp" "$bundle"
size_mb=$(( $(stat -c %s "$bundle") / 1048576 ))
echo "Wrote $bundle ($(du -h "$bundle" | cut -f1))"
if (( size_mb > max_mb )); then
  echo "error: the bundle is ${size_mb} MB, over the ${max_mb} MB limit." >&2
  exit 1
fi
