import pytest

from raydeploy import checkpoints
from raydeploy.errors import UserError


def test_registry_lists_the_six_checkpoints_in_order():
    names = [c.name for c in checkpoints.load()]
    assert names == [
        "prerequisites-check", "docker-installation", "cleanup-existing",
        "ray-deployment", "monitoring-deployment", "final-validation",
    ]
    assert [c.number for c in checkpoints.load()] == [1, 2, 3, 4, 5, 6]


def test_every_playbook_exists():
    for c in checkpoints.load():
        assert c.playbook_path.is_file(), c.playbook_path


def test_approval_and_destructive_flags_match_the_seed():
    flags = {c.name: (c.approval_required, c.destructive) for c in checkpoints.load()}
    assert flags["docker-installation"] == (True, False)
    assert flags["cleanup-existing"] == (True, True)
    assert not any(a for n, (a, _) in flags.items() if n not in
                   ("docker-installation", "cleanup-existing"))


def test_unknown_checkpoint_names_the_known_ones():
    with pytest.raises(UserError, match="prerequisites-check"):
        checkpoints.get("../etc/passwd")
