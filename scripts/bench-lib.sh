# Shared helpers for scripts/bench.d/*.sh (sourced, not run).
# measure NAME CMD...: runs CMD 3 times, keeps the fastest wall time; sets
#   SECS (seconds), RSS_KB (peak RSS of that run), CPU (percent of one core).
measure() {
  local name=$1; shift
  local best="" best_rss="" best_cpu="" report secs rss cpu
  report=$(mktemp)
  for _ in 1 2 3; do
    /usr/bin/time -o "$report" -f '%e %M %P' "$@" >/dev/null 2>&1
    read -r secs rss cpu <"$report"
    if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN{exit !(a<b)}'; then
      best=$secs; best_rss=$rss; best_cpu=${cpu%\%}
    fi
  done
  rm -f "$report"
  SECS=$best; RSS_KB=$best_rss; CPU=$best_cpu
  printf '  %-34s %8.2f s  %7d KB RSS  %4s%% CPU\n' "$name" "$SECS" "$RSS_KB" "$CPU"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b == 0) print "n/a"; else printf "%.2f", a/b }'; }
BIN=${RELKIT_BIN_DIR:-target/release}
