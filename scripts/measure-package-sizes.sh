#!/usr/bin/env bash
# Measures what users download and ship (the figures in README.md's "Package sizes"):
#   1. the packages: MLNet.FastAi, and the tool's pointer package plus one package per RID;
#   2. a fresh console app referencing MLNet.FastAi and TorchSharp-cpu, outside the repository: what its restore
#      takes from NuGet (.nupkg sizes, and the same unpacked) and what `dotnet publish -r linux-x64` writes,
#      both in MB and grouped by dependency.
#
#   scripts/measure-package-sizes.sh
#
# Needs the .NET SDK, jq and python3. Everything is built in a temporary folder, removed at the end (it peaks at
# about 6 GB). On a machine where builds must take turns, set BUILD_LOCK to a lock file: each dotnet command then
# runs under flock on it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
version="0.1.0-measure.$(date -u +%Y%m%d%H%M%S)"
packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
# The app's restore puts this run's MLNet.FastAi into the NuGet cache: removed with the rest.
trap 'rm -rf "$work" "$packages/mlnet.fastai/$version"' EXIT

dotnet_() { if [[ -n "${BUILD_LOCK:-}" ]]; then flock "$BUILD_LOCK" dotnet "$@"; else dotnet "$@"; fi; }

echo "Packing MLNet.FastAi and the tool ($version) ..." >&2
dotnet_ pack "$repo/src/MLNet.FastAi" -c Release --artifacts-path "$work/artifacts" -o "$work/feed" -p:Version="$version" >"$work/pack.log" \
  || { cat "$work/pack.log" >&2; exit 1; }
dotnet_ pack "$repo/src/MLNet.FastAi.Cli" -c Release --artifacts-path "$work/artifacts" -o "$work/feed" -p:Version="$version" >>"$work/pack.log" \
  || { cat "$work/pack.log" >&2; exit 1; }
rm -rf "$work/artifacts"
echo "## Packages"
for nupkg in "$work"/feed/*.nupkg; do
  bytes=$(stat -c %s "$nupkg")
  printf '%-28s %11d bytes %7.1f MB\n' "$(basename "$nupkg" ".$version.nupkg")" "$bytes" "${bytes}e-6"
done

# The app sits outside the repository, with build files of its own, so nothing of the repository's applies.
app="$work/app"
mkdir -p "$app"
echo '<Project />' >"$work/Directory.Build.props"
echo '<Project />' >"$work/Directory.Build.targets"
echo '<Project><PropertyGroup><ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally></PropertyGroup></Project>' >"$work/Directory.Packages.props"
cat >"$work/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="measured-packages" value="$work/feed" />
  </packageSources>
</configuration>
EOF
cat >"$app/app.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <NoWarn>NU1603</NoWarn>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="MLNet.FastAi" Version="$version" />
    <PackageReference Include="TorchSharp-cpu" Version="0.107.0" />
  </ItemGroup>
</Project>
EOF
echo 'System.Console.WriteLine(typeof(MLNet.FastAi.Training.Learner).Assembly.GetName().Name);' >"$app/Program.cs"

echo "Restoring and publishing a console app that references MLNet.FastAi and TorchSharp-cpu ..." >&2
dotnet_ publish "$app" -c Release -r linux-x64 --self-contained false -o "$work/publish" >"$work/publish.log" \
  || { cat "$work/publish.log" >&2; exit 1; }

# One line per restored package: group, name, .nupkg bytes, unpacked bytes. The app's restore covers every RID,
# as any app's does: TorchSharp-cpu brings libtorch for linux-x64, win-x64 and osx-arm64 whatever the target.
jq -r '.libraries | to_entries[] | select(.value.type == "package") | "\(.key)\t\(.value.path)"' "$app/obj/project.assets.json" |
  while IFS=$'\t' read -r key path; do
    name="${key%%/*}"
    nupkg=$(find "$packages/$path" -maxdepth 1 -name '*.nupkg' -printf '%s')
    # The cache keeps the .nupkg beside what it unpacked; count the two apart.
    unpacked=$(( $(du -sb "$packages/$path" | cut -f1) - ${nupkg:-0} ))
    printf '%s\t%s\t%s\n' "$name" "${nupkg:-0}" "$unpacked"
  done >"$work/restored.tsv"

# One line per published file: the package (or project) it came from, from the published deps.json; files the
# deps.json does not list are the pretrained weights MLNet.FastAi's build file copies, and the app itself.
python3 - "$work/publish" "$work/restored.tsv" <<'EOF'
import json, os, sys
publish, restored = sys.argv[1], sys.argv[2]

def group(name):
    n = name.lower()
    if n == "microsoft.ml.dnnimagefeaturizer.resnet18": return "ResNet-18 weights (Microsoft.ML.DnnImageFeaturizer.ResNet18)"
    if n.startswith("libtorch-cpu") or n == "torchsharp-cpu": return "libtorch (libtorch-cpu*, TorchSharp-cpu)"
    if n in ("torchsharp", "torchvision", "torchsharp.pybridge"): return "TorchSharp managed + native bridge"
    if n.startswith("microsoft.ml.onnxruntime"): return "ONNX Runtime"
    if n.startswith("skiasharp") or n.startswith("harfbuzzsharp") or n.startswith("scottplot"): return "SkiaSharp, HarfBuzz, ScottPlot"
    if n.startswith("microsoft.ml"): return "ML.NET"
    if n == "mlnet.fastai": return "MLNet.FastAi"
    return "the rest"

deps_file = next(f for f in os.listdir(publish) if f.endswith(".deps.json"))
deps = json.load(open(os.path.join(publish, deps_file)))
owner = {}
for target in deps["targets"].values():
    for lib, entry in target.items():
        for kind in ("runtime", "native", "resources", "runtimeTargets"):
            for path in entry.get(kind, {}):
                owner.setdefault(os.path.basename(path), lib.split("/")[0])

published = {}
for root, _, files in os.walk(publish):
    for f in files:
        rel = os.path.relpath(os.path.join(root, f), publish)
        lib = "Microsoft.ML.DnnImageFeaturizer.ResNet18" if rel.startswith("DnnImageModels") else owner.get(f, "the app")
        g = group(lib)
        published[g] = published.get(g, 0) + os.path.getsize(os.path.join(root, f))

download, unpacked = {}, {}
for line in open(restored):
    name, nupkg, size = line.rstrip("\n").split("\t")
    g = group(name)
    download[g] = download.get(g, 0) + int(nupkg)
    unpacked[g] = unpacked.get(g, 0) + int(size)

groups = sorted(set(download) | set(published), key=lambda g: -published.get(g, 0))
mb = lambda b: f"{b / 1e6:10.1f}"
print("\n## A console app with MLNet.FastAi + TorchSharp-cpu (MB)")
print(f"{'dependency':62} {'download':>10} {'unpacked':>10} {'published':>10}")
for g in groups:
    print(f"{g:62} {mb(download.get(g, 0))} {mb(unpacked.get(g, 0))} {mb(published.get(g, 0))}")
print(f"{'total':62} {mb(sum(download.values()))} {mb(sum(unpacked.values()))} {mb(sum(published.values()))}")
print("(download: the .nupkg files restore fetches; unpacked: what the NuGet cache unpacks from them, kept beside them;")
print(" published: the output of dotnet publish -r linux-x64, framework-dependent)")
EOF
