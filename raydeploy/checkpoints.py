"""The checkpoint registry (playbooks/checkpoints.yml), read once and shared by every tool."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from raydeploy.errors import UserError
from raydeploy.paths import PROJECT_ROOT

REGISTRY_PATH = PROJECT_ROOT / "playbooks" / "checkpoints.yml"


@dataclass(frozen=True)
class Checkpoint:
    name: str
    number: int
    title: str
    playbook: str
    approval_required: bool
    destructive: bool
    description: str

    @property
    def playbook_path(self) -> Path:
        return REGISTRY_PATH.parent / self.playbook


@cache
def load(path: Path = REGISTRY_PATH) -> tuple[Checkpoint, ...]:
    data = yaml.safe_load(path.read_text())
    checkpoints = tuple(Checkpoint(**entry) for entry in data["checkpoints"])
    numbers = [c.number for c in checkpoints]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        raise ValueError(f"{path}: checkpoint numbers must be unique and in order")
    return checkpoints


def get(name: str) -> Checkpoint:
    for checkpoint in load():
        if checkpoint.name == name:
            return checkpoint
    known = ", ".join(c.name for c in load())
    raise UserError(f"unknown checkpoint {name!r}; known checkpoints: {known}")
