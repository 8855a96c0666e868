#!/usr/bin/env bash
# Build what bench/gpu/train.sh carries to a lent GPU machine, here, before the device call:
#   .fer/trainval.xz   FER2013's train and validation splits (bench/gpu/fer_pack.py)
#   .whl/site.tar.xz   Keras and its two missing dependencies for the machine's Python 3.12
# Both folders are kept out of git (.git/info/exclude), since FER2013 may not be redistributed.
#   bash bench/gpu/prepare.sh [FER2013 folder, default ../shared/datasets/fer2013]
set -euo pipefail
cd "$(dirname "$0")/../.."
fer=${1:-../shared/datasets/fer2013}
for folder in .fer .whl; do
  grep -qx "/$folder/" .git/info/exclude 2>/dev/null || echo "/$folder/" >> .git/info/exclude
done
keras=$(cat requirements*.txt | grep -i '^keras==')
rm -rf .whl && mkdir -p .whl/wheels .whl/site
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl/wheels "$keras" namex optree
for wheel in .whl/wheels/*.whl; do python3 -m zipfile -e "$wheel" .whl/site; done
tar -cJf .whl/site.tar.xz -C .whl/site . && rm -rf .whl/wheels .whl/site
[ -f .fer/trainval.xz ] || .venv/bin/python bench/gpu/fer_pack.py pack "$fer" .fer/trainval.xz "$fer/../ferplus/labels.csv"
ls -la .whl/site.tar.xz .fer/trainval.xz
echo "what travels: $(( ($(git ls-files -z | xargs -0 cat | wc -c) + $(cat .whl/site.tar.xz .fer/trainval.xz | wc -c)) / 1048576 )) MiB of 64"
