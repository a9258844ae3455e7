#!/usr/bin/env bash
# toybox-v2's recipe at GPU scale on a lent GPU, end to end in under 12 minutes: new scenes cached, the
# transformer trained for MINUTES (default 8) from models/toybox-v2, and the model folder (with its training
# state) packed into at most three files of 15 MiB under $OUT, which scripts/unpack-gpu-run.sh turns back into
# models/toybox-v2 here. The GPU image has PyTorch and transformers but not diffusers or pydantic: carry the
# wheels that scripts/fetch-gpu-wheels.sh downloads (.whl/) with the call.
#
#   (on the GPU machine, in the repository)  OUT=/some/folder scripts/train-toybox-v2-gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the folder the packed model goes to}
MINUTES=${MINUTES:-8}
PY=${PYTHON:-python3}
CFG=${CFG:-configs/train/toybox-v2.yaml}
MODEL=models/toybox-v2
read -ra extra <<< "${SETS:-}"  # further --set overrides (a dry run on a CPU uses a few clips and a small batch)
RUN=runs/toybox-v2-gpu
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
if [[ -d .whl ]]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
train() { "$PY" -m duetto.training.cli "$@"; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true

# Scenes no CPU run uses: GPU runs take clip indices from 10^9 on, one block of num_clips per run.
runs=$("$PY" -c "import sys; from duetto.training.assemble import read_history; print(len(read_history(sys.argv[1])))" "$MODEL")
data=(--set "data.first_clip=$(( 1000000000 + runs * 20000 ))" --set "twin.max_minutes=$MINUTES" "${extra[@]}")
train cache -c "$CFG" --out "$RUN" --init-from "$MODEL" "${data[@]}"
train twin -c "$CFG" --out "$RUN" --init-from "$MODEL" "${data[@]}"
train assemble -c "$CFG" --out "$RUN" --codecs "$MODEL" --model-out "$RUN/model" "${data[@]}"
cp "$RUN/twin/metrics.jsonl" "$OUT/metrics.jsonl"
tar -C "$RUN" -cf - model | split -b 15m - "$OUT/toybox-v2.tar.part-"
ls -l "$OUT"
