#!/usr/bin/env python3
"""Reads dilattn-run's stdout, parses its last line as JSON (the --bench line)
and prints its keys in order, nested objects' keys in braces: keys: a b c{d e}.
Fails when the last line is not one JSON object."""
import json
import sys


def keys(obj):
    return " ".join(k + ("{" + keys(v) + "}" if isinstance(v, dict) else "")
                    for k, v in obj.items())


lines = sys.stdin.read().splitlines()
bench = json.loads(lines[-1])
assert isinstance(bench, dict), "the last line is not a JSON object"
print("keys: " + keys(bench))
print("cache: " + str(bench["cache"]))
