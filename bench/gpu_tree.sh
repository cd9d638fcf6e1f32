#!/usr/bin/env bash
# What a device call would send, and a reversible way to make it fit the tool's 64 MiB.
#
#   bash bench/gpu_tree.sh size                  # bytes that would travel now
#   bash bench/gpu_tree.sh slim [PATH ...]       # leave PATHs behind (default checkpoints/digits)
#   bash bench/gpu_tree.sh restore               # undo slim
#
# The device tool sends the session's checkout: its tracked files and its untracked files that
# git does not ignore (plus shared/ and carried paths). `slim` takes PATHs out of this
# checkout's index (`git rm --cached`: the files stay on disk, nothing is committed) and
# ignores them in .git/info/exclude (local, never committed), so they are neither tracked nor
# untracked-not-ignored; `restore` puts the index entries back from HEAD (`git reset`) and
# drops those exclude lines. While slimmed, `git status` shows the PATHs as staged deletions:
# do not commit then. `slim` refuses PATHs with staged changes (restore would lose them).
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"
EXCLUDE=$(git rev-parse --git-path info/exclude)
STATE=$(git rev-parse --git-path gpu-tree-slimmed)
BEGIN="# bench/gpu_tree.sh slim: begin"
END="# bench/gpu_tree.sh slim: end"
LIMIT=$((64 * 1024 * 1024))

travelling_bytes() {
  # tracked files still on disk, and untracked files that git does not ignore
  local total
  total=$(git ls-files -z --cached --others --exclude-standard \
    | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}' || true)
  if [ -d shared ] && git check-ignore -q shared; then  # shared/ travels even if ignored
    total=$((total + $(du -sb shared | cut -f1)))
  fi
  echo "$total"
}

report() {
  local bytes
  bytes=$(travelling_bytes)
  awk -v b="$bytes" -v l="$LIMIT" 'BEGIN {
    printf "would travel: %d bytes (%.1f MiB) of the %.0f MiB limit: %s\n", b, b / 1048576,
           l / 1048576, (b <= l ? "fits" : "TOO LARGE") }'
  [ "$bytes" -le "$LIMIT" ]
}

case "${1:-size}" in
  size)
    report
    ;;
  slim)
    shift
    [ -e "$STATE" ] && { echo "already slimmed ($(tr '\n' ' ' <"$STATE")); restore first" >&2; exit 1; }
    [ $# -gt 0 ] || set -- checkpoints/digits
    for path in "$@"; do
      path=${path%/}
      if ! git diff --cached --quiet -- "$path"; then
        echo "$path has staged changes: commit or unstage them first" >&2
        exit 1
      fi
    done
    mkdir -p "$(dirname "$EXCLUDE")"
    echo "$BEGIN" >>"$EXCLUDE"
    for path in "$@"; do
      path=${path%/}
      git rm -r -q --cached -- "$path"
      echo "/$path" >>"$EXCLUDE"
      echo "$path" >>"$STATE"
    done
    echo "$END" >>"$EXCLUDE"
    echo "left behind (untracked and ignored here, still on disk): $*"
    echo "do not commit until: bash bench/gpu_tree.sh restore"
    report
    ;;
  restore)
    [ -e "$STATE" ] || { echo "nothing to restore"; report; exit 0; }
    mapfile -t paths <"$STATE"
    git reset -q -- "${paths[@]}"
    awk -v b="$BEGIN" -v e="$END" '$0 == b {skip = 1} !skip {print} $0 == e {skip = 0}' \
      "$EXCLUDE" >"$EXCLUDE.tmp"
    mv "$EXCLUDE.tmp" "$EXCLUDE"
    rm -f "$STATE"
    echo "restored: ${paths[*]}"
    report || true
    ;;
  *)
    sed -n '2,15p' "$0" >&2
    exit 2
    ;;
esac
