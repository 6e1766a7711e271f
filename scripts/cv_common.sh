# Sourced by scripts/cv_last_layer and scripts/cv_head (after `out` and `pe` are set).
# CV_PARTS (2 or 4, default 2) splits the training folds 1-8 into halves A (held out:
# folds 5-8) and B (1-4), or quarters Q1-Q4 (held out: folds 1-2, 3-4, 5-6, 7-8; each
# part trains on the other six). CV_SEEDS (default "42 1 2") names the seeds.
CV_PARTS="${CV_PARTS:-2}"
CV_SEEDS="${CV_SEEDS:-42 1 2}"
case "$CV_PARTS" in
  2) cv_parts=(A B) cv_heldout=(5,6,7,8 1,2,3,4) ;;
  4) cv_parts=(Q1 Q2 Q3 Q4) cv_heldout=(1,2 3,4 5,6 7,8) ;;
  *) echo "$(basename "$0"): CV_PARTS must be 2 or 4" >&2; exit 2 ;;
esac

# cv_make_roots DATA: the derived root $out/root<PART> of every part (scripts/cv_root.py).
cv_make_roots() {
  local i train f
  for i in "${!cv_parts[@]}"; do
    train=""
    for f in 1 2 3 4 5 6 7 8; do
      [[ ",${cv_heldout[$i]}," == *",$f,"* ]] || train+="${train:+,}$f"
    done
    python3 scripts/cv_root.py "$1" "$out/root${cv_parts[$i]}" --train "$train" \
      --heldout "${cv_heldout[$i]}"
  done
}

# cv_score MODEL ROOT JSON: the model's held-out scores (the derived root's "test" fold),
# unless JSON exists.
cv_score() {
  [[ -f "$3" ]] || $pe eval --model "$1" --ptbxl "$2" --json "$3" --bootstrap 0 --threads 1 \
    --quiet >/dev/null
}

# cv_each_part JOB LOG_SUFFIX: runs `JOB SEED PART` for every seed and part, CV_JOBS
# (default 2) at a time, each logging to $out/s<SEED><PART><LOG_SUFFIX>.log; fails unless
# every job ended by printing "seed SEED part PART done".
cv_each_part() {
  local job=$1 suffix=$2 max="${CV_JOBS:-2}" seed part
  for seed in $CV_SEEDS; do
    for part in "${cv_parts[@]}"; do
      while (( $(jobs -rp | wc -l) >= max )); do wait -n || true; done
      "$job" "$seed" "$part" >"$out/s$seed$part$suffix.log" 2>&1 &
    done
  done
  wait || true
  for seed in $CV_SEEDS; do
    for part in "${cv_parts[@]}"; do
      grep -q "seed $seed part $part done" "$out/s$seed$part$suffix.log" || {
        echo "$(basename "$0"): seed $seed part $part failed (see $out/s$seed$part$suffix.log)" >&2
        return 1
      }
    done
  done
}
