"""`sandbox down` forgets Ansible's cached facts of exactly its own hosts."""

from raydeploy.sandbox import hosts
from raydeploy.sandbox.hosts import Sandbox


def test_down_forgets_only_this_sandboxes_cached_facts(tmp_path, monkeypatch):
    monkeypatch.setattr(hosts, "ansible_fact_cache_dir", lambda: tmp_path)
    names = ["s1_lab-1", "s1_lab-12", "lab-2", "s1_lab-x-1", "s1_mylab-1", "s1_lab-1.bak", "s1_other-1"]
    for name in names:
        (tmp_path / name).write_text("{}")
    Sandbox("lab").forget_facts()
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["s1_lab-1.bak", "s1_lab-x-1", "s1_mylab-1", "s1_other-1"]
