#!/usr/bin/env bash
# The promotion baseline other GitOps tools use: clone the repository (with a
# checkout of every file), edit files, commit, push.
#
# Usage: clone-edit-commit-push.sh <remote-url> <branch> <workdir> \
#            <path> <content-file> [<path> <content-file>]...
# Each <content-file> holds the new contents of the repository file <path>.
set -euo pipefail
url=$1 branch=$2 work=$3
shift 3
git clone --quiet --branch "$branch" "$url" "$work"
cd "$work"
while (($#)); do
    mkdir -p "$(dirname "$1")"
    cp "$2" "$1"
    git add -- "$1"
    shift 2
done
git commit --quiet -m "promote (baseline)"
git push --quiet origin "$branch"
