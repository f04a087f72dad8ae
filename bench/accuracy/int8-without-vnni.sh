#!/usr/bin/env bash
# A saved zip's accuracy on this CPU and on one without VNNI, emulated by QEMU's user mode: ONNX Runtime picks its int8
# kernels by CPUID, and those of CPUs without VNNI (AVX2, and AVX-512 without VNNI) add byte products in saturating
# 16-bit sums, which the VNNI kernels of this machine never do. Emulation is slow (~1 min per 2,000 images at 28 px,
# far longer at 224 px): point it at a small folder.
#
#   bench/accuracy/int8-without-vnni.sh ZIP FOLDER [QEMU_CPU]     (default CPU model: EPYC-Milan, AVX2 without AVX-512)
#
# Needs Debian's qemu-user (apt-get install qemu-user). The CLI is built Release once, next to the other benches.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ $# -lt 2 ]]; then sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; fi
zip="$1" folder="$2" cpu="${3:-EPYC-Milan}"
command -v qemu-x86_64 >/dev/null || { echo "error: qemu-x86_64 not found; install Debian's qemu-user." >&2; exit 1; }
cli="$repo/artifacts/int8-without-vnni/cli"
[[ -f "$cli/mlnet-fastai.dll" ]] || dotnet build "$repo/src/MLNet.FastAi.Cli" -c Release -o "$cli" >/dev/null
dotnet_host="$(readlink -f "$(command -v dotnet)")"

echo "== this CPU ($(grep -o -m1 'avx512_vnni' /proc/cpuinfo || echo 'no avx512_vnni'))"
dotnet "$cli/mlnet-fastai.dll" evaluate "$zip" "$folder" | sed -n 2,4p
echo "== QEMU $cpu"
# The runtime under QEMU needs writable-and-executable JIT pages, no tiering, and a larger first generation; even so
# it sometimes dies of SIGSEGV in QEMU's translation (seen about one run in four), so a run is tried three times.
for attempt in 1 2 3; do
  if out="$(DOTNET_EnableWriteXorExecute=0 DOTNET_TieredCompilation=0 DOTNET_GCgen0size=0x4000000 \
            qemu-x86_64 -cpu "$cpu" "$dotnet_host" "$cli/mlnet-fastai.dll" evaluate "$zip" "$folder" 2>/dev/null)"; then
    sed -n 2,4p <<<"$out"; exit 0
  fi
  echo "(attempt $attempt died under emulation; trying again)" >&2
done
exit 1
