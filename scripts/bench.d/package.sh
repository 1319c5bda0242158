#!/usr/bin/env bash
# relkit-package tar.gz against `tar czf` (gzip -6) and `tar | pigz -6` on a
# real ~90 MB binary (terraform, else the largest binary in /usr/bin) and a
# ~5 MB one; prints time and size ratios and peak RSS.
set -euo pipefail
source scripts/bench-lib.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/relkit-bench-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1700000000

big=/usr/local/bin/terraform
[ -x "$big" ] || big=$(ls -S /usr/bin/* | head -n 1)
# A real ~5 MB executable: the first between 3 and 9 MiB in /usr/bin.
small=$(find /usr/bin -maxdepth 1 -type f -perm -u+x -size +3M -size -9M 2>/dev/null | sort | head -n 1)
for input in "$big" "$small"; do
  name=$(basename "$input")
  mkdir -p "$work/$name"; cp "$input" "$work/$name/$name"
  cd "$work/$name"
  size=$(stat -c %s "$name")
  echo "$name ($((size / 1048576)) MiB):"
  measure "relkit-package tar.gz" "$OLDPWD/$BIN/relkit-package" --name b --version 1.0.0 --target linux/amd64 -o out "$name"; ours=$SECS; rss=$RSS_KB
  measure "tar czf (gzip -6)" tar czf ref.tar.gz "$name"; gz=$SECS
  measure "tar cf - | pigz -6" sh -c "tar cf - '$name' | pigz -6 > pigz.tar.gz"; pz=$SECS
  ours_size=$(stat -c %s out/b-1.0.0-linux-amd64.tar.gz); ref_size=$(stat -c %s ref.tar.gz)
  echo "  speed vs tar czf: $(ratio "$gz" "$ours")x (target >= 2)   vs pigz: $(ratio "$pz" "$ours")x"
  echo "  size vs gzip -6: $(awk -v a="$ours_size" -v b="$ref_size" 'BEGIN{printf "%+.2f%%", (a-b)*100/b}') (target <= +2%)   peak RSS: $((rss / 1024)) MB (target < 64)"
  cd "$OLDPWD"
done
