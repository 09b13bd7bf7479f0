import doctest
import importlib

import pytest

MODULES = [
    "labmate_core.attrdict",
    "labmate_core.parsing",
    "labmate_core.parsing.config_file",
    "labmate_core.parsing.config_text",
    "labmate_core.parsing.title",
    "labmate_core.parsing.values",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_are_true(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
