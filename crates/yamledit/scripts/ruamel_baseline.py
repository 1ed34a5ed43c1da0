#!/usr/bin/env python3
"""Baseline for the ferry-yamledit benchmark: the same promotion done with
ruamel.yaml's round-trip mode (the usual format-preserving editor).

Usage: ruamel_baseline.py MANIFEST.json MIN_SECONDS

The manifest lists cases: {"name", "source", "target", "paths"} where
source/target are file paths and paths are normalized paths as lists of
keys (str) and indices (int), exactly the locations ferry's snapshot found.
For each case we time (for at least MIN_SECONDS, at least 5 runs): load source, load target, copy
every path's value from source into target (mappings merged key by key,
like ferry), dump target. Prints one JSON object: name -> {"us_per_op",
"output"}.
"""
import io
import json
import sys
import time

from ruamel.yaml import YAML


def make_yaml():
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # do not re-wrap long lines
    return y


def get(node, path):
    for p in path:
        node = node[p]
    return node


def merge(target_parent, key, value):
    """Set target_parent[key] to value; mappings merged key by key."""
    cur = target_parent[key] if (isinstance(key, int) or key in target_parent) else None
    if isinstance(value, dict) and isinstance(cur, dict):
        for k, v in value.items():
            merge(cur, k, v)
    elif isinstance(value, list) and isinstance(cur, list) and len(value) == len(cur):
        for i, v in enumerate(value):
            merge(cur, i, v)
    else:
        target_parent[key] = value


def promote(yaml, source_text, target_text, paths):
    src = yaml.load(source_text)
    dst = yaml.load(target_text)
    for path in paths:
        value = get(src, path)
        merge(get(dst, path[:-1]), path[-1], value)
    out = io.StringIO()
    yaml.dump(dst, out)
    return out.getvalue()


def main():
    manifest = json.load(open(sys.argv[1]))
    min_seconds = float(sys.argv[2])
    yaml = make_yaml()
    results = {}
    for case in manifest:
        with open(case["source"], newline="") as f:
            source = f.read()
        with open(case["target"], newline="") as f:
            target = f.read()
        output = promote(yaml, source, target, case["paths"])  # warm-up
        start = time.perf_counter()
        iterations = 0
        while iterations < 5 or time.perf_counter() - start < min_seconds:
            promote(yaml, source, target, case["paths"])
            iterations += 1
        elapsed = time.perf_counter() - start
        results[case["name"]] = {"us_per_op": elapsed / iterations * 1e6, "output": output}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
