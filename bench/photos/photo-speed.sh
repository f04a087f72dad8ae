#!/usr/bin/env bash
# Photo-size speed in one sitting: the bare TorchSharp loops with the C allocator's defaults
# (MLNET_FASTAI_MALLOC=default) beside the learner with the package's settings, interleaved twice.
#   bash bench/photos/photo-speed.sh <photo folder with train/ and valid/> [out folder] [extra photo-speed options]
set -euo pipefail
folder=${1:?give a photo folder (train/ and valid/ of class folders), e.g. from: MLNet.FastAi.Bench photos-make}
out=${2:-photo-speed-results}
shift $(( $# >= 2 ? 2 : 1 ))
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
dotnet build bench/MLNet.FastAi.Bench -c Release -nologo -v q
bench=bench/MLNet.FastAi.Bench/bin/Release/net10.0/MLNet.FastAi.Bench
mkdir -p "$out"
for round in 1 2; do
  MLNET_FASTAI_MALLOC=default "$bench" photo-speed --folder "$folder" --part bare "$@" --json "$out/bare-default-$round.json" | tee "$out/bare-default-$round.log"
  "$bench" photo-speed --folder "$folder" --part all "$@" --json "$out/package-$round.json" | tee "$out/package-$round.log"
done
echo "Figures in $out/ (images/s; ratios: learner phases over the bare loops of the same round)."
