# Sourced by scripts/cv_last_layer and scripts/cv_head (after `out` and `pe` are set).

# cv_score MODEL ROOT JSON: the model's held-out scores (the derived root's "test" fold),
# unless JSON exists.
cv_score() {
  [[ -f "$3" ]] || $pe eval --model "$1" --ptbxl "$2" --json "$3" --bootstrap 0 --threads 1 \
    --quiet >/dev/null
}

# cv_each_half JOB LOG_SUFFIX: runs `JOB SEED HALF` for seeds 42, 1, 2 and halves A, B,
# CV_JOBS (default 2) at a time, each logging to $out/s<SEED><HALF><LOG_SUFFIX>.log; fails
# unless every job ended by printing "seed SEED half HALF done".
cv_each_half() {
  local job=$1 suffix=$2 max="${CV_JOBS:-2}" seed half
  for seed in 42 1 2; do
    for half in A B; do
      while (( $(jobs -rp | wc -l) >= max )); do wait -n || true; done
      "$job" "$seed" "$half" >"$out/s$seed$half$suffix.log" 2>&1 &
    done
  done
  wait || true
  for seed in 42 1 2; do
    for half in A B; do
      grep -q "seed $seed half $half done" "$out/s$seed$half$suffix.log" || {
        echo "$(basename "$0"): seed $seed half $half failed (see $out/s$seed$half$suffix.log)" >&2
        return 1
      }
    done
  done
}
