"""Checkpoint 01's supported OS and Python versions agree with what Ray itself requires.

Ray's virtualenv is built from the host's python3, so a Python that Ray's wheels refuse passes
01 and then fails in 04 unless 01 refuses it first.
"""

from importlib import metadata

import yaml
from packaging.specifiers import SpecifierSet

from tests.conftest import PROJECT

PREREQ = yaml.safe_load((PROJECT / "roles/prerequisites/defaults/main.yml").read_text())
RAY_VERSION = yaml.safe_load((PROJECT / "roles/ray_common/defaults/main.yml").read_text())["ray_version"]
# The python3 each release ships (Debian's and Ubuntu's package lists).
OS_PYTHON = {
    "Debian": {"11": "3.9", "12": "3.11", "13": "3.13"},
    "Ubuntu": {"20.04": "3.8", "22.04": "3.10", "24.04": "3.12"},
}


def test_every_supported_python_is_one_ray_installs_on():
    assert metadata.version("ray") == RAY_VERSION, "the controller's Ray is the one the roles deploy"
    requires = SpecifierSet(metadata.metadata("ray")["Requires-Python"])
    refused = [v for v in PREREQ["prerequisites_python_versions"] if f"{v}.0" not in requires]
    assert not refused, f"Ray {RAY_VERSION} requires Python {requires}; the defaults list {refused}"


def test_each_supported_distribution_ships_a_supported_python():
    for distribution, minimum in PREREQ["prerequisites_supported_distributions"].items():
        python = OS_PYTHON[distribution][minimum]
        assert python in PREREQ["prerequisites_python_versions"], (distribution, minimum, python)
