"""The Kubernetes replicas' certificates and cluster secret, as the documented command of
containers/k8s/kustomization.yaml makes them and its secretGenerator packs them (shared by
test_k8s_pki.py and test_env_names.py; the fixture ``k8s_secret`` is in conftest.py)."""

import base64
import re
import shlex
import sys

import yaml
from uqo.control.config import load_config

from ._opsfiles import K8S, ROOT, run
from .test_k8s import _one

_VAR = re.compile(r"\$\(([A-Za-z0-9_]+)\)")


def _kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def _documented_init() -> list[str]:
    """The ``uqo certs init`` command in kustomization.yaml's comment (``\\``-continued)."""
    lines = (K8S / "kustomization.yaml").read_text().splitlines()
    (first,) = [i for i, ln in enumerate(lines) if ln.startswith("#   uqo certs init ")]
    text = ""
    for line in lines[first:]:
        text += line.lstrip("# ").rstrip("\\") + " "
        if not line.endswith("\\"):
            return shlex.split(text)
    raise AssertionError("the command's last line ends with a backslash")


def make_secret(pki) -> tuple[dict, dict]:
    """(the Secret as kustomize would make it, key -> file of our CLI's output)."""
    cmd = _documented_init()
    out = cmd.index("--out") + 1
    assert cmd[out] == "containers/k8s/pki"                      # beside kustomization.yaml
    cmd[out] = str(pki)
    done = run([sys.executable, "-m", "uqo", *cmd[1:]], cwd=ROOT)
    assert done.returncode == 0, done.stderr
    (gen,) = _kustomization()["secretGenerator"]
    files, data = {}, {}
    for entry in gen["files"]:
        key, path = entry.split("=")
        assert path.startswith("pki/")
        files[key] = pki / path[len("pki/"):]
        data[key] = base64.b64encode(files[key].read_bytes()).decode()
    obj = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": data,
           "metadata": {"name": gen["name"], "namespace": _kustomization()["namespace"]}}
    return obj, files


def pod_env(index: int) -> tuple[dict, dict, str]:
    """(pod spec, its container's environment with $(VAR) expanded, the pod's name)."""
    sts = _one("StatefulSet", "uqo")
    name = f"{sts['metadata']['name']}-{index}"
    pod = sts["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    env: dict[str, str] = {}
    for e in c["env"]:
        if "value" in e:
            env[e["name"]] = _VAR.sub(lambda m: env[m.group(1)], e["value"])
        elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[e["name"]] = name
    return pod, env, name


def mounted(index: int, files: dict, tmp_path):
    """Pod ``index``'s configuration with the Secret's files where the mount puts them."""
    pod, env, _ = pod_env(index)
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "pki"]
    env = {k: v.replace(mount["mountPath"], str(tmp_path / "pki")) for k, v in env.items()}
    (tmp_path / "pki").mkdir(exist_ok=True)
    for key, path in files.items():
        (tmp_path / "pki" / key).write_bytes(path.read_bytes())
    return load_config(env=env, overrides={"host": "0.0.0.0",
                                           "data_dir": str(tmp_path / f"data-{index}")})


