from raydeploy.sandbox import images


def test_recipe_key_is_stable_and_short():
    assert images.recipe_key("a", "b") == images.recipe_key("a", "b")
    assert len(images.recipe_key("a")) == 12


def test_recipe_key_changes_with_any_part():
    base = images.recipe_key("debootstrap", "bookworm", "minbase", "http://m")
    assert base != images.recipe_key("debootstrap", "bookworm", "buildd", "http://m")
    # Parts are delimited, so moving a boundary is a different recipe.
    assert images.recipe_key("ab", "c") != images.recipe_key("a", "bc")


def test_host_tag_follows_dockerfile_and_base():
    dockerfile = images.host_dockerfile()
    tag = images.host_tag("raydeploy/debian-base:x", dockerfile)
    assert tag.startswith("raydeploy/sandbox-host:")
    assert tag == images.host_tag("raydeploy/debian-base:x", dockerfile)
    assert tag != images.host_tag("raydeploy/debian-base:y", dockerfile)
    assert tag != images.host_tag("raydeploy/debian-base:x", dockerfile + "RUN true\n")


def test_base_tag_names_suite_and_key():
    recipe = images.BaseRecipe(mirror="http://mirror.example/debian")
    assert recipe.tag() == f"raydeploy/debian-base:bookworm-{recipe.key()}"
    assert recipe.key() != images.BaseRecipe(mirror="http://other/debian").key()


def test_host_recipe_has_what_a_server_needs():
    text = images.host_dockerfile()
    for pkg in ("openssh-server", "python3-venv", "sudo", "systemd", "rsync", "iproute2",
                "ca-certificates"):
        assert pkg in text
    assert "STOPSIGNAL SIGRTMIN+3" in text and "/lib/systemd/systemd" in text
