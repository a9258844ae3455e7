#!/usr/bin/env bash
# Turns the parts scripts/train-toybox-v2-gpu.sh packed (in FOLDER) back into models/toybox-v2, then benches it
# and adds the run to the learning curve. GPU_MINUTES is the GPU time the run took (for the CPU-hours column,
# which then reads GPU hours: the note says so).
#
#   scripts/unpack-gpu-run.sh FOLDER
set -euo pipefail
cd "$(dirname "$0")/.."
parts=${1:?name the folder holding toybox-v2.tar.part-*}
DUETTO=${DUETTO:-.venv/bin/duetto}
tmp=$(mktemp -d)
cat "$parts"/toybox-v2.tar.part-* | tar -C "$tmp" -xf -
rm -rf models/toybox-v2 && mv "$tmp/model" models/toybox-v2
"$DUETTO" bench toybox --model models/toybox-v2 --n 64 --out runs/toybox-v2-gpu/bench
"$DUETTO" train record-run --model models/toybox-v2 --report runs/toybox-v2-gpu/bench/report.json \
    --card docs/toybox-v2.md --cpu-hours "$(echo "${GPU_MINUTES:-12} / 60" | .venv/bin/python -c "print(round(eval(input()), 2))")" \
    --note "(GPU: hours are GPU hours)"
