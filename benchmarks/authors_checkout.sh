#!/usr/bin/env bash
# Export the authors' reference code for tests/ssl/test_authors_equivalence.py.
#
# Usage: bash benchmarks/authors_checkout.sh [TARGET]
#
# TARGET (default: ../authors_code relative to the repository root, i.e. outside the project)
# receives one folder per repository, exported at the commit the tests were written against
# (the reference notes' commits) from a bare git mirror:
#
#   TARGET/CLOCS     danikiyasseh/CLOCS     (CMSC; CC BY-NC-SA 4.0)
#   TARGET/ST-MEM    bakqui/ST-MEM          (CC BY-NC 4.0)
#   TARGET/ECG-JEPA  kweimann/ECG-JEPA      (MIT)
#
# The mirrors are read from $MIRROR/<owner>+<name>/repo (MIRROR defaults to the .mirror folder
# beside the project root).
# The authors' code is never copied into skecg (licences): the tests import or execute it from
# TARGET, which they find through the environment variable SKECG_AUTHORS_CODE.
#
# On another machine, clone the GitHub repositories at the commits the reference notes
# (docs: methods.md) name instead:
#
#   git clone https://github.com/danikiyasseh/CLOCS TARGET/CLOCS && git -C TARGET/CLOCS checkout e58fb4f
#   git clone https://github.com/bakqui/ST-MEM TARGET/ST-MEM && git -C TARGET/ST-MEM checkout 69ec702
#   git clone https://github.com/kweimann/ECG-JEPA TARGET/ECG-JEPA && git -C TARGET/ECG-JEPA checkout 504b4e5
#
# then: export SKECG_AUTHORS_CODE=TARGET
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:-$root/../authors_code}"
mirror="${MIRROR:-$root/../.mirror}"

mkdir -p "$target"
target="$(cd "$target" && pwd)"

for entry in "CLOCS:danikiyasseh+CLOCS:e58fb4f" "ST-MEM:bakqui+ST-MEM:69ec702" \
             "ECG-JEPA:kweimann+ECG-JEPA:504b4e5"; do
    IFS=: read -r name repo commit <<< "$entry"
    git_dir="$mirror/$repo/repo"
    if [ ! -d "$git_dir" ]; then
        echo "error: no mirror at $git_dir (set MIRROR, or git clone, see the header)" >&2
        exit 1
    fi
    rm -rf "${target:?}/$name"
    mkdir -p "$target/$name"
    git --git-dir="$git_dir" archive "$commit" | tar -x -C "$target/$name"
    echo "$name $(git --git-dir="$git_dir" rev-parse "$commit")"
done

echo "export SKECG_AUTHORS_CODE=$target"
