#!/usr/bin/env python3
"""Validates custom resources against the openAPIV3Schema of their CRD.

    validate-crd.py CRD.yaml MANIFESTS.yaml

Every document of MANIFESTS.yaml whose apiVersion and kind the CRD defines
is validated (strictly: properties the schema does not name are errors,
as `kubernetes-validate --strict` does for built-in kinds); the others
are skipped. Prints one line per resource checked; exits 1 on the first
invalid one, 2 when none was checked.
"""
import sys

import jsonschema
import yaml


def strict(schema):
    """Closes objects that name their properties (unless the schema keeps
    unknown fields), and maps Kubernetes' extensions to JSON Schema."""
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) if isinstance(v, dict) else v for k, v in schema.items()}
    if "properties" in out:
        out["properties"] = {k: strict(v) for k, v in out["properties"].items()}
        if not out.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in out:
            out["additionalProperties"] = False
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = strict(out["additionalProperties"])
    if isinstance(out.get("items"), dict):
        out["items"] = strict(out["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in out:
            out[key] = [strict(s) for s in out[key]]
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.get("nullable"):
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
    return out


def main(crd_path, manifests_path):
    with open(crd_path) as f:
        crd = next(d for d in yaml.safe_load_all(f) if d)
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"]
    schemas = {
        f"{group}/{v['name']}": strict(v["schema"]["openAPIV3Schema"])
        for v in crd["spec"]["versions"]
        if v.get("served", True)
    }
    checked = 0
    with open(manifests_path) as f:
        for doc in yaml.safe_load_all(f):
            if not doc or doc.get("kind") != kind:
                continue
            api = doc.get("apiVersion")
            name = doc.get("metadata", {}).get("name")
            if api not in schemas:
                print(f"{kind}/{name}: {api} is not a served version of {crd_path}")
                return 1
            errors = sorted(
                jsonschema.Draft7Validator(schemas[api]).iter_errors(doc),
                key=lambda e: list(e.absolute_path),
            )
            for e in errors:
                path = ".".join(str(p) for p in e.absolute_path)
                print(f"{kind}/{name}: {path}: {e.message}")
            if errors:
                return 1
            print(f"{kind}/{name}: valid against {api}")
            checked += 1
    if checked == 0:
        print(f"no {kind} in {manifests_path}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
