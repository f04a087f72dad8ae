#!/usr/bin/env bash
# Exports the sources of fastai 2.7.11 and the three fastai packages it needs from local git mirrors (bare
# repositories, no work copy) into PEERS (default /tmp/peers), for bench/accuracy/fastai/env.sh:
#
#   bench/accuracy/fastai/export-sources.sh [MIRRORS] [PEERS]
#
# MIRRORS (default /work/.mirror) holds <owner>+<name>/repo git directories of Zezo-Ai/fastai (a fork that carries
# upstream fastai's history; upstream is too large to fetch), fastai/fastcore, fastai/fastprogress and
# fastai/fastdownload. Only fastai/ and settings.ini are archived from the fastai fork: its notebooks over 4 MiB are
# missing from the mirror. (git may print "error: invalid object ... nbs/..." for one of them; the export is whole.)
set -euo pipefail

mirrors="${1:-/work/.mirror}"
peers="${2:-/tmp/peers}"

export_tree() {  # export_tree GIT_DIR REV DEST PATHS...
  local git_dir="$1" rev="$2" dest="$3"; shift 3
  [[ -d "$git_dir" ]] || { echo "error: no git directory '$git_dir'" >&2; exit 1; }
  rm -rf "$dest" && mkdir -p "$dest"
  git --git-dir="$git_dir" archive "$rev" "$@" | tar x -C "$dest"
  echo "$dest: $(grep -m1 '^version' "$dest/settings.ini")"
}

# fastai 2.7.11 is commit 137fdfa2 (its release tag is not in the fork).
export_tree "$mirrors/Zezo-Ai+fastai/repo" 137fdfa230358b3c163ef8ef000f42b801445d7e "$peers/fastai-2.7.11" fastai settings.ini
export_tree "$mirrors/fastai+fastcore/repo" 1.5.28 "$peers/fastcore" fastcore settings.ini
export_tree "$mirrors/fastai+fastprogress/repo" 1.0.3 "$peers/fastprogress" fastprogress settings.ini
export_tree "$mirrors/fastai+fastdownload/repo" 0.0.6 "$peers/fastdownload" fastdownload settings.ini
