#!/bin/bash
# Issue 14's measured figures, one after another on an otherwise idle machine (bench/RESULTS.md).
set -x
cd "$(dirname "$0")/.."
P=.venv/bin/python
$P bench/batch.py --files 8 --loops 10 --rounds 3
bench/.venv-ray/bin/python bench/cluster_engines.py --files 8 --loops 10 --rounds 2
$P bench/versus.py --base 9eac56b --rounds 3 --measures "capture frames/s (blazeface, two faces a frame)" "log rows/s (LogWriter, 100,000 rows)"
$P bench/dashboard_sessions.py --db bench/out/big.db
$P bench/dashboard_queries.py --db bench/out/big.db
$P bench/dashboard_browser.py --db bench/out/big.db
