#!/usr/bin/env bash
# Downloads into .whl/ the wheels that the lent GPU's image lacks for `duetto train` (it has PyTorch,
# transformers, tokenizers, safetensors, SciPy, typer, rich and PyYAML, and no network): the versions this
# checkout's .venv uses, built for that machine's Python 3.12 on x86-64. .whl/ is ignored by git.
set -euo pipefail
cd "$(dirname "$0")/.."
version() { .venv/bin/python -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1"; }
mkdir -p .whl
for package in diffusers pydantic pydantic-core annotated-types typing-inspection; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "$package==$(version "$package")"
done
ls .whl
