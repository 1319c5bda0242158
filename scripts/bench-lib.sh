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
# interleave N LABEL1 CMD1 -- LABEL2 CMD2 [-- LABEL3 CMD3 ...]: runs the
#   commands in turn N times (A B C A B C ...: a shared, noisy machine slows
#   each alike) and prints the median wall time, peak RSS, CPU share and CPU
#   time (user + system: on a loaded machine a command's wall time also
#   depends on how many runnable threads it has, its CPU time does not).
#   Sets MED_SECS[i], MED_RSS_KB[i], MED_CPU_SECS[i] (i = 0, 1, ...) in the
#   order given.
interleave() {
  local n=$1; shift
  local -a labels=() cmds=()
  local cur=""
  labels+=("$1"); shift
  while [ "$#" -gt 0 ]; do
    if [ "$1" = "--" ]; then cmds+=("$cur"); cur=""; shift; labels+=("$1"); shift; continue; fi
    cur+=" $(printf '%q' "$1")"; shift
  done
  cmds+=("$cur")
  local report i k
  report=$(mktemp)
  local -a all_secs all_rss all_cpu all_cpu_secs
  for ((k = 0; k < n; k++)); do
    for i in "${!cmds[@]}"; do
      /usr/bin/time -o "$report" -f '%e %M %P %U %S' bash -c "${cmds[$i]}" >/dev/null 2>&1
      read -r s r c u y <"$report"
      all_secs[$i]+="$s "; all_rss[$i]+="$r "; all_cpu[$i]+="${c%\%} "
      all_cpu_secs[$i]+="$(awk -v u="$u" -v y="$y" 'BEGIN{print u + y}') "
    done
  done
  rm -f "$report"
  MED_SECS=(); MED_RSS_KB=(); MED_CPU_SECS=()
  median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
  for i in "${!cmds[@]}"; do
    MED_SECS[$i]=$(echo "${all_secs[$i]}" | median)
    MED_RSS_KB[$i]=$(echo "${all_rss[$i]}" | median)
    MED_CPU_SECS[$i]=$(echo "${all_cpu_secs[$i]}" | median)
    printf '  %-40s %8.2f s  %7d KB RSS  %5s%% CPU  %6.2f s CPU  (median of %d)\n' "${labels[$i]}" "${MED_SECS[$i]}" "${MED_RSS_KB[$i]}" "$(echo "${all_cpu[$i]}" | median)" "${MED_CPU_SECS[$i]}" "$n"
  done
}
