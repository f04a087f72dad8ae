#!/usr/bin/env bash
# Runs ON the lent GPU machine (no .NET; PyTorch with CUDA under python3), from the repository root, with the bundle
# made by bench/gpu/make-bundle.sh in .gpu/. Unpacks it to /tmp, points the bench at PyTorch's own libtorch, and runs:
#   1. gpu-smoke                  CUDA vs CPU on the same small network (stops here when it fails)
#   2. train --device cuda        Learner.Fit vs the bare loops, MNIST 10k, ResNet-18, batch 128
#   3. data --device cuda         batch assembly vs a training step, on the GPU
#   4. pytorch_baseline.py        the same network and batches in PyTorch, on the same card
# Everything (logs, JSON, nvidia-smi) goes under $OUT (./gpu-out when unset).
#
#   bash bench/gpu/run-on-gpu.sh [BUNDLE]
#
# Settings from the environment: EPOCHS (5) for steps 2 and 4; STEP_TIMEOUT (300 s) per step; for a dry run on a CPU machine, DEVICE=cpu (gpu-smoke
# then only has to fail cleanly), MNIST=<smaller folder>, and MLNET_FASTAI_LIBTORCH=<a CPU libtorch folder>.
set -uo pipefail

bundle="${1:-.gpu/bench-bundle.tar.xz}"
OUT="${OUT:-$PWD/gpu-out}"
epochs="${EPOCHS:-5}"
device="${DEVICE:-cuda}"
step_timeout="${STEP_TIMEOUT:-300}"
work=/tmp/mlnet-fastai-bench
mkdir -p "$OUT"
rm -rf "$work" && mkdir -p "$work"
tar -xJf "$bundle" -C "$work" || { echo "error: cannot unpack $bundle" >&2; exit 1; }
root="$work/bundle"
app="$root/app/MLNet.FastAi.Bench"
mnist="${MNIST:-$root/mnist10k}"

torch_dir="$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')" || { echo "error: python3 has no torch" >&2; exit 1; }
site="$(dirname "$torch_dir")"
nvidia_libs="$(ls -d "$site"/nvidia/*/lib 2>/dev/null | tr '\n' ':')"
export MLNET_FASTAI_LIBTORCH="${MLNET_FASTAI_LIBTORCH:-$torch_dir/lib}"
export LD_LIBRARY_PATH="$torch_dir/lib:${nvidia_libs}${LD_LIBRARY_PATH:-}"
# The package patches a copy of TorchSharp's bridge at load time; /tmp is writable wherever $HOME may not be.
export MLNET_FASTAI_NATIVE_CACHE=/tmp/native
export DOTNET_gcServer=0

{
  echo "bundle commit: $(cat "$root/COMMIT" 2>/dev/null || echo unknown)"
  echo "MLNET_FASTAI_LIBTORCH=$MLNET_FASTAI_LIBTORCH"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  nvidia-smi 2>&1 || true
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")'
} > "$OUT/environment.txt" 2>&1
cat "$OUT/environment.txt"

# step NAME COMMAND...: runs one step, its output to the console and to $OUT/NAME.log; returns its exit code.
step() {
  local name="$1"; shift
  echo; echo "######## $name: $*"
  local start=$SECONDS
  # A hung step must not eat the machine's few minutes.
  timeout "$step_timeout" "$@" 2>&1 | tee "$OUT/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "######## $name: exit $rc after $((SECONDS - start)) s" | tee -a "$OUT/$name.log"
  return "$rc"
}

step gpu-smoke "$app" gpu-smoke --json "$OUT/gpu-smoke.json"
smoke=$?
if [[ "$device" == cuda && $smoke -ne 0 ]]; then
  echo "gpu-smoke failed (exit $smoke): not running the benchmarks." >&2
  exit 1
fi
if [[ "$device" != cuda && $smoke -ne 3 ]]; then
  echo "gpu-smoke should have reported 'CUDA not available' (exit 3) on this machine, but exited $smoke." >&2
  exit 1
fi
status=0
step "train-$device" "$app" train --folder "$mnist" --device "$device" --epochs "$epochs" --batch 128 --json "$OUT/train-$device.json" || status=1
step "data-$device" "$app" data --folder "$mnist" --device "$device" --decode-runs 2 --json "$OUT/data-$device.json" || status=1
step pytorch-baseline python3 "$root/pytorch_baseline.py" --folder "$mnist" --device "$device" --epochs "$epochs" --batch 128 \
  --json "$OUT/pytorch-baseline.json" || status=1
exit $status
