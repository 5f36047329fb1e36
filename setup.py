"""Package mapping: the design card keeps engine/, kernels/, control/ and security/ at the top
level of the repository; the wheel installs them under the single import root ``uqo``.

pyproject.toml cannot express "map this directory and find its subpackages", so this file
does only that and nothing else.
"""
from setuptools import find_packages, setup

MAPPED = {"uqo": "src/uqo", "uqo.engine": "engine", "uqo.kernels": "kernels",
          "uqo.control": "control", "uqo.security": "security",
          "uqo.bench": "bench"}


def _packages():
    found = []
    for name, path in MAPPED.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(path)]
    return found


setup(package_dir=MAPPED, packages=_packages())
