#!/usr/bin/env bash
# The plumbing floor: build the promotion commit in an existing bare mirror
# with git plumbing only (hash-object, ls-tree/mktree up the changed paths,
# commit-tree) and push it — no clone, no checkout, no index.
#
# Usage: plumbing-commit-push.sh <mirror-dir> <remote-url> <branch> \
#            <path> <content-file> [<path> <content-file>]...
set -euo pipefail
export GIT_DIR=$1
url=$2 branch=$3
shift 3

# set_path <tree> <path> <blob>: prints the id of <tree> with <path> set to <blob>.
set_path() {
    local tree=$1 path=$2 blob=$3
    local name=${path%%/*}
    local entry
    if [[ $path == */* ]]; then
        local sub
        sub=$(git rev-parse --verify --quiet "$tree:$name" || true)
        if [[ -z $sub ]]; then sub=$(git mktree </dev/null); fi
        entry=$(printf '040000 tree %s\t%s' "$(set_path "$sub" "${path#*/}" "$blob")" "$name")
    else
        entry=$(printf '100644 blob %s\t%s' "$blob" "$name")
    fi
    { git ls-tree "$tree" | awk -F'\t' -v n="$name" '$2 != n'; printf '%s\n' "$entry"; } | git mktree
}

parent=$(git rev-parse --verify "refs/heads/$branch^{commit}")
tree=$(git rev-parse "$parent^{tree}")
while (($#)); do
    blob=$(git hash-object -w -- "$2")
    tree=$(set_path "$tree" "$1" "$blob")
    shift 2
done
commit=$(git commit-tree "$tree" -p "$parent" -m "promote (plumbing)")
git push --quiet "$url" "$commit:refs/heads/$branch"
git update-ref "refs/heads/$branch" "$commit" "$parent"
