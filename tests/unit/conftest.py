"""Fixtures shared by the language-pack tests (test_lang_*.py): the shipped taxonomy and
gazetteer with every language pack, loaded once per module."""

import pytest

from services.enrich.entities import Gazetteer, load_gazetteer
from services.enrich.settings import DEFAULT_GAZETTEER, DEFAULT_TAXONOMY
from services.enrich.taxonomy import Taxonomy, load_taxonomy


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(DEFAULT_TAXONOMY)


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer(DEFAULT_GAZETTEER)
