#!/usr/bin/env bash
# Train candidate models on a lent GPU machine, inside one call of the device tool.
#
# Why: on this project's 2-core CPU an epoch of the shipped network takes 1-4 minutes, so a
# session holds 25-90 epochs; a GPU holds hundreds in minutes. The machine has no TensorFlow
# and nothing can be installed from a registry there, so Keras runs on the image's PyTorch
# (KERAS_BACKEND=torch, the default here; jax may be named instead) with the same
# `python app.py train`, distortions in the graph (model/train.py, "graph" pipeline),
# with Keras' own wheel carried in .whl/site.tar.xz and FER2013's train and validation splits, with
# their FER+ crowd votes, in .fer/trainval.xz (bench/gpu/fer_pack.py says why that format). The int8 model and the report
# are written back here by `python app.py train --finish DIR --data ../shared/datasets/fer2013`.
#
# First a one-epoch smoke run on 1,400 faces must finish within SMOKE seconds: on 2026-11-26 JAX
# 0.11.2 there never finished compiling the first training step (over 45 s for one process, over
# 9 minutes for four at once), and that call came back with nothing. Then each run's epochs are
# chosen to fit the time left: every run first trains 2 epochs beside the others (as they will
# run), and its second epoch's seconds (history.csv) set the real run's length. Every stage's log
# tail goes to $OUT/log.txt, so a failed call still says why.
#
#   here first:        bash bench/gpu/prepare.sh      (builds .fer/ and .whl/, both git-ignored)
#   then, for the call only, move the shipped weights out of the tree (training needs none of them;
#   with them the tree is 65 MiB of the tool's 64):
#     mkdir -p /tmp/aside/fast && mv model/weights/moodnet.keras model/weights/moodnet-*.int8.tflite /tmp/aside/ \
#       && mv model/weights/fast/moodnet.keras model/weights/fast/*.int8.tflite /tmp/aside/fast/
#   run (device tool): BUDGET=550 bash bench/gpu/train.sh        carry: .whl .fer        timeout_s: 580
#   and put them back:  mv /tmp/aside/fast/* model/weights/fast/ && mv /tmp/aside/*.* model/weights/
# Dry-run here on PyTorch's CPU build (2026-11-30, 2 runs of 3 epochs on 700 faces, 145 s):
#   pip install --target /tmp/torchsite torch==2.13.0
#   BUDGET=560 LIMIT=700 MAX_EPOCHS=3 PY="env PYTHONPATH=/tmp/torchsite .venv/bin/python" RUNS="..." bash bench/gpu/train.sh
#
# Runs are "name widths seed [more train options]" lines in RUNS ($FERPLUS names the unpacked
# crowd votes); BUDGET is the seconds this script may take.
set -u
BUDGET=${BUDGET:-550}
PY=${PY:-python3}
RESULT=${OUT:-bench/out/gpu-result}
WORK=bench/out/gpu
MAX_EPOCHS=${MAX_EPOCHS:-300}
LIMIT=${LIMIT:-0}
FERPLUS=/tmp/fer2013/ferplus.csv
RUNS=${RUNS:-"a 32,64,128,256 11
b 32,64,128,256 12 --ferplus $FERPLUS --ferplus-weight 0.3
c 32,64,128,256 13 --ferplus $FERPLUS --ferplus-weight 0.5
d 16,32,96,192 14 --ferplus $FERPLUS --ferplus-weight 0.3
e 48,96,192,384 15 --ferplus $FERPLUS --ferplus-weight 0.3
f 32,64,128,256 16 --ferplus $FERPLUS --ferplus-weight 0.3 --class-weight balanced"}
started=$(date +%s)
left() { echo $((BUDGET - ($(date +%s) - started))); }

mkdir -p "$RESULT" "$WORK" /tmp/moodlog-site
exec > >(tee "$RESULT/log.txt") 2>&1
tar -xJf "${SITE_TAR:-.whl/site.tar.xz}" -C /tmp/moodlog-site || exit 1
export PYTHONPATH=/tmp/moodlog-site KERAS_BACKEND=${KERAS_BACKEND:-torch} PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_PREALLOCATE=false XLA_PYTHON_CLIENT_MEM_FRACTION=0.2
# Several runs share the machine's 16 cores: without a cap each one's CPU work would ask for all.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import keras; from model.training.train import machine_description; print(machine_description())" || exit 1
$PY bench/gpu/fer_pack.py unpack .fer/trainval.xz /tmp/fer2013 || exit 1
echo "data ready after $(( $(date +%s) - started )) s"

train() {  # SECONDS OUT [options]: one `app.py train` into OUT (log: OUT.log), stopped by SIGTERM
  local seconds=$1 out=$2                 # after SECONDS, which keeps its best epoch (SaveBest)
  shift 2
  timeout -s TERM "$seconds" $PY app.py train --data /tmp/fer2013 --precision float32 --out "$out" "$@" \
    > "$out.log" 2>&1
}
recipe() {  # widths seed epochs [more options]: the options of every probe and run
  local widths=$1 seed=$2 epochs=$3
  shift 3
  echo --widths "$widths" --seed "$seed" --epochs "$epochs" --erasing 0.5 --limit "$LIMIT" --quiet "$@"
}
epoch_seconds() {  # history.csv -> seconds of its last epoch
  $PY -c "import csv, sys; print(list(csv.DictReader(open(sys.argv[1])))[-1]['seconds'])" "$1"
}
show() { for log in "$@"; do echo "== $log"; tail -c 1500 "$log" | tr '\r' '\n' | tail -8; done; }

train "${SMOKE:-150}" "$WORK/smoke" --limit 1400 --epochs 1
status=$?
show "$WORK/smoke.log"
[ $status = 0 ] || { echo "the smoke run failed or timed out (status $status)"; exit 1; }
echo "smoke run done after $(( $(date +%s) - started )) s"

probe_start=$(date +%s)
pids=()   # a bare `wait` would also wait for the tee above, which never ends
while read -r name widths seed more; do
  train 240 "$WORK/probe-$name" $(recipe "$widths" "$seed" 2 $more) &
  pids+=($!)
done <<< "$RUNS"
wait "${pids[@]}"
show "$WORK"/probe-*.log
# A real run's overhead (data, compiling, the slower first epoch): taken as its probe's whole time.
overhead=$(( $(date +%s) - probe_start ))
echo "probes done after $(( $(date +%s) - started )) s"
: > "$WORK/plan.txt"
while read -r name widths seed more; do
  seconds=$(epoch_seconds "$WORK/probe-$name/history.csv") || { echo "probe $name gave no epoch time"; exit 1; }
  epochs=$($PY -c "print(max(2, min($MAX_EPOCHS, int(($(left) - 30 - $overhead) / ($seconds * 1.05)))))")
  echo "$name: widths $widths, seed $seed: probe epoch 2 took $seconds s, so $epochs epochs"
  echo "$name $widths $seed $epochs $more" >> "$WORK/plan.txt"
done <<< "$RUNS"
pids=()
while read -r name widths seed epochs more; do   # a run cut by the deadline writes no run.json
  train $(( $(left) - 25 )) "$WORK/$name" $(recipe "$widths" "$seed" "$epochs" $more) &
  pids+=($!)
done < "$WORK/plan.txt"
wait "${pids[@]}"
echo "runs done after $(( $(date +%s) - started )) s"
while read -r name widths seed epochs more; do
  tail -2 "$WORK/$name.log"
  tail -2 "$WORK/$name/history.csv"
  tar -cf "$RESULT/$name.tar" -C "$WORK" "$name/moodnet.keras" "$name/history.csv" "$name/run.json" "$name.log" \
    "probe-$name/history.csv"
done < "$WORK/plan.txt"
ls -la "$RESULT"
