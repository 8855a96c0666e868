#!/usr/bin/env bash
# Builds bench/.venv-fer: the `fer` package (mini-Xception, the benchmark peer) in a venv of its
# own, installed with --no-deps so that its loose requirements (moviepy, facenet-pytorch, an
# unpinned TensorFlow) never touch Moodlog's environment. Only what FER(mtcnn=False) imports.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv-fer
.venv-fer/bin/pip install -q --upgrade pip
.venv-fer/bin/pip install -q tensorflow-cpu==2.21.0 opencv-python-headless==4.13.0.92 pandas==3.1.1 \
    tqdm==4.70.1 pillow==13.0.0 requests==2.32.5 'setuptools<81' matplotlib==3.11.2
.venv-fer/bin/pip install -q --no-deps fer==25.10.3
.venv-fer/bin/python -c "from fer.fer import FER; FER(mtcnn=False)" && touch .venv-fer/READY
echo "fer peer ready in bench/.venv-fer"
