#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image; the autograder zip (this
# repository) is unpacked in /autograder/source. It installs the grader's environment (.venv), the
# sandbox's tools (bubblewrap) and the students' environment (.venv-student) that the sandbox mounts.
set -euo pipefail
source_dir="${AUTOGRADER_SOURCE:-/autograder/source}"
cd "$source_dir"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends bubblewrap util-linux python3-venv make >/dev/null
make venv student-env PYTHON="${PYTHON:-python3}"
cp autograder/gradescope/run_autograder /autograder/run_autograder
chmod +x /autograder/run_autograder
