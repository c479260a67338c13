import pytest

from raydeploy.errors import UserError
from raydeploy.sandbox.names import validate_host_count, validate_name


@pytest.mark.parametrize("name", ["sandbox", "ci", "sb-2", "a" * 24])
def test_good_names_pass(name):
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "with space", "a/b", "../x", "UPPER", "1abc", "trailing-", "a" * 25, "x;rm -rf"]
)
def test_bad_names_are_refused_with_the_fix(name):
    with pytest.raises(UserError, match="--name"):
        validate_name(name)


@pytest.mark.parametrize("count", [1, 3, 32])
def test_host_counts_in_range_pass(count):
    assert validate_host_count(count) == count


@pytest.mark.parametrize("count", [0, -1, 33, 500])
def test_host_counts_out_of_range_are_refused(count):
    with pytest.raises(UserError, match="--hosts"):
        validate_host_count(count)
