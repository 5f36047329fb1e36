"""Turn Prometheus Operator CRDs into the strict JSON schemas beside this file (test data for
tests/ops/test_k8s.py). Run it again when upgrading the operator version named in README.md:

    python tests/ops/schemas/extract_crd_schemas.py monitoring.coreos.com_servicemonitors.yaml \
        monitoring.coreos.com_prometheusrules.yaml

Each output is the CRD's openAPIV3Schema for its served version, descriptions dropped, with
``additionalProperties: false`` on every object that lists its properties (the API server would
prune an unknown field silently; a test should name it), as kubeconform's strict mode does.
"""

import json
import sys
from pathlib import Path

import yaml


def strict(node):
    if isinstance(node, dict):
        node = {k: strict(v) for k, v in node.items() if k != "description"}
        if ("properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [strict(v) for v in node]
    return node


def main(paths: list[str]) -> None:
    for path in paths:
        crd = yaml.safe_load(Path(path).read_text())
        (version,) = [v for v in crd["spec"]["versions"] if v.get("served")]
        kind = crd["spec"]["names"]["kind"].lower()
        name = f"{kind}-{crd['spec']['group'].split('.')[0]}-{version['name']}.json"
        schema = strict(version["schema"]["openAPIV3Schema"])
        Path(__file__).with_name(name).write_text(json.dumps(schema, indent=1, sort_keys=True)
                                                  + "\n")
        print(name)


if __name__ == "__main__":
    main(sys.argv[1:])
