#!/usr/bin/env bash
# Writes a folder of synthetic JPEG photos of pet-photo sizes (train/ and valid/ of class folders) for the photo-size
# benchmarks and for trying the package on photos, since no photo dataset is reachable offline.
#
#   scripts/make-photo-folder.sh DIR [COUNT] [CLASSES]     (defaults: 1000 photos, 5 classes; about 10 s per 1,000)
set -euo pipefail
if [[ $# -lt 1 ]]; then sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; fi
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dotnet run --project "$repo/bench/MLNet.FastAi.Bench" -c Release -- photos-make --out "$1" --count "${2:-1000}" --classes "${3:-5}"
