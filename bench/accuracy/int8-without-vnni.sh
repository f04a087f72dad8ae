#!/usr/bin/env bash
# A saved zip's accuracy on this CPU and on one without VNNI, emulated by QEMU's user mode: ONNX Runtime picks its int8
# kernels by CPUID, and those of CPUs without VNNI (AVX2, and AVX-512 without VNNI) add byte products in saturating
# 16-bit sums, which the VNNI kernels never do. Emulation is slow (~1.5 min per 2,000 images at 28 px, far longer at
# 224 px): point it at a small folder. It says nothing of speed.
#
#   bench/accuracy/int8-without-vnni.sh ZIP FOLDER [QEMU_CPU]     (default CPU model: EPYC-Milan, AVX2 without AVX-512)
#
# Needs Debian's qemu-user (apt-get install qemu-user). Builds the CLI (Release) into artifacts/int8-without-vnni/.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ $# -lt 2 ]]; then sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; fi
zip="$1" folder="$2" cpu="${3:-EPYC-Milan}"
command -v qemu-x86_64 >/dev/null || { echo "error: qemu-x86_64 not found; install Debian's qemu-user." >&2; exit 1; }
cli="$repo/artifacts/int8-without-vnni/cli"
dotnet build "$repo/src/MLNet.FastAi.Cli" -c Release -o "$cli" -v q -nologo | { grep -E ' error ' || true; }
dotnet_host="$(readlink -f "$(command -v dotnet)")"

vnni="$(grep -oE 'avx512_vnni|avx_vnni' /proc/cpuinfo | head -1 || true)"
echo "== this CPU (${vnni:-no VNNI})"
dotnet "$cli/mlnet-fastai.dll" evaluate "$zip" "$folder" | sed -n 2,4p
echo "== QEMU $cpu"
# The runtime under QEMU needs writable-and-executable JIT pages, no tiering and a larger first generation; even so it
# sometimes dies of SIGSEGV inside QEMU (about one run in four here), so only that is retried, at most three times.
errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
for attempt in 1 2 3; do
  status=0
  out="$(DOTNET_EnableWriteXorExecute=0 DOTNET_TieredCompilation=0 DOTNET_GCgen0size=0x4000000 \
         qemu-x86_64 -cpu "$cpu" "$dotnet_host" "$cli/mlnet-fastai.dll" evaluate "$zip" "$folder" 2>"$errors")" || status=$?
  if (( status == 0 )); then sed -n 2,4p <<<"$out"; exit 0; fi
  if (( status != 139 )); then grep -v "TCG doesn't support" "$errors" >&2 || true; echo "$out" >&2; exit "$status"; fi
  echo "(attempt $attempt died of SIGSEGV under emulation)" >&2
done
exit 1
