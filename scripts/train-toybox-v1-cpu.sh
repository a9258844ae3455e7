#!/usr/bin/env bash
# Trains toybox-v1 and its no-fusion ablation on a 2-core CPU (configs/train/toybox-v1-cpu*.yaml): the two
# codecs side by side on one core each, the latent cache on both, then the two transformers side by side
# (and the vocoder's extra steps beside them).
# Resumable: rerun after an interruption and finished stages are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DUETTO=${DUETTO:-.venv/bin/duetto}
FUSION=runs/toybox-v1-cpu
ABLATION=runs/toybox-v1-cpu-nofusion
CFG=configs/train/toybox-v1-cpu.yaml
ABLATION_CFG=configs/train/toybox-v1-cpu-nofusion.yaml
# The codecs sample from all data.num_clips clips; the transformers see the first 600 only, because
# encoding a whole clip costs about a CPU-second and the cache must fit beside two hours of training.
TWIN_CLIPS=data.num_clips=600
TWIN_DATA=(--set "$TWIN_CLIPS")

stage() {  # stage NAME CONFIG RUN_DIR [--set …]: run one `duetto train` stage unless it already finished
    local name=$1 cfg=$2 run=$3 folder=${1//-/_}
    shift 3
    [[ $name == twin || $name == audio ]] && folder=$name
    if [[ -d $run/$folder/final ]]; then echo "$run: $name already finished"; return; fi
    local resume=()
    [[ -d $run/$folder ]] && resume=(--resume)
    "$DUETTO" train "$name" -c "$cfg" --out "$run" "${resume[@]}" "$@"
}

mkdir -p "$FUSION" "$ABLATION"
# One core each while both codecs train; both cores for the one left when resuming with the other done.
threads=1
[[ -d $FUSION/video_vae/final || -d $FUSION/audio/final ]] && threads=2
OMP_NUM_THREADS=$threads stage video-vae "$CFG" "$FUSION" >> "$FUSION/video_vae.log" 2>&1 &
video=$!
OMP_NUM_THREADS=$threads stage audio "$CFG" "$FUSION" >> "$FUSION/audio.log" 2>&1 &
audio=$!
wait "$video"; wait "$audio"

# The vocoder converges slowest and nothing cached depends on it: it goes on alone beside the rest.
vocoder=
if [[ ! -d $FUSION/audio/final/vocoder.before-finetune ]]; then
    OMP_NUM_THREADS=1 "$DUETTO" train vocoder -c "$CFG" --out "$FUSION" --steps 150 --lr 1e-3 \
        >> "$FUSION/vocoder.log" 2>&1 &
    vocoder=$!
fi

# The latent cache once, on both cores; the ablation reads the same codecs and cache.
OMP_NUM_THREADS=2 "$PY" - "$CFG" "$FUSION" "$TWIN_CLIPS" <<'PY'
import sys
from pathlib import Path

from duetto.training.config import load_config
from duetto.training.ddp import init_distributed
from duetto.training.twin import encode_clips

cfg = load_config(Path(sys.argv[1]), sys.argv[3:])
encode_clips(cfg, Path(sys.argv[2]), init_distributed(cfg.device))
PY
for part in video_vae audio latents; do
    [[ -e $ABLATION/$part ]] || ln -s "$(realpath "$FUSION/$part")" "$ABLATION/$part"
done

OMP_NUM_THREADS=1 stage twin "$CFG" "$FUSION" "${TWIN_DATA[@]}" >> "$FUSION/twin.log" 2>&1 &
fused=$!
OMP_NUM_THREADS=1 stage twin "$ABLATION_CFG" "$ABLATION" "${TWIN_DATA[@]}" >> "$ABLATION/twin.log" 2>&1 &
ablated=$!
wait "$fused"; wait "$ablated"
[[ -z $vocoder ]] || wait "$vocoder"

# A second, longer round for the vocoder once the transformers are done: after the first it played the
# renders it was given 14 dB under, where benchmarks/audio_level.py found most of the model's quiet sound.
if [[ ! -e $FUSION/audio/vocoder-round2.done ]]; then
    OMP_NUM_THREADS=2 "$DUETTO" train vocoder -c "$CFG" --out "$FUSION" --steps 640 --lr 5e-4 \
        >> "$FUSION/vocoder.log" 2>&1
    touch "$FUSION/audio/vocoder-round2.done"
fi

"$DUETTO" train assemble -c "$CFG" --out "$FUSION" --model-out models/toybox-v1 "${TWIN_DATA[@]}"
"$DUETTO" train assemble -c "$ABLATION_CFG" --out "$ABLATION" --model-out "$ABLATION/model" "${TWIN_DATA[@]}"
