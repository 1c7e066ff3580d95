"""ingest.* params for the user's own images: each mistake names its key."""

from __future__ import annotations

import pytest

from traindev.config import IngestParams, ParamsError
from traindev.params_file import validate_params


@pytest.mark.parametrize(
    ("ingest", "message"),
    [
        ({"source": "folder"}, r"ingest\.root is required with source: folder"),
        ({"source": "manifest"}, r"ingest\.manifest is required with source: manifest"),
        ({"root": "data/raw"}, r"ingest\.root / ingest\.manifest are read only with source"),
        ({"source": "folder", "root": "r", "image_size": [0, 8]}, r"ingest\.image_size: must be"),
        ({"source": "folder", "root": "r", "channels": 2}, r"ingest\.channels"),
        ({"source": "folder", "root": "r", "resize": "crop"}, r"ingest\.resize"),
        ({"source": "folder", "root": "r", "on_bad_input": "ignore"}, r"ingest\.on_bad_input"),
        ({"source": "folder", "root": "r", "workers": 0}, r"ingest\.workers: must be 'auto'"),
        ({"source": "folder", "root": "r", "classes": ["a", "a"]}, r"ingest\.classes: names"),
        ({"source": "folder", "root": "r", "classes": ["a"]}, r"ingest\.classes must list at"),
        ({"source": "folder", "root": "r", "domains": []}, r"ingest\.domains: must be a non-empty"),
        ({"source": "folder", "root": "r", "size": [8, 8]}, r"ingest\.size: unknown key"),
    ],
)
def test_bad_ingest_params_name_the_key(default_params, ingest, message):
    default_params["ingest"].update(ingest)
    with pytest.raises(ParamsError, match=message):
        validate_params(default_params)


def test_folder_params_and_their_defaults():
    ingest = IngestParams(source="folder", root="data/raw/photos")
    assert ingest.image_size == (32, 32) and ingest.channels == 3
    assert ingest.resize == "letterbox" and ingest.on_bad_input == "fail"
    assert ingest.workers == "auto" and ingest.classes is None and ingest.domains is None


def test_embedded_default_is_unchanged(default_params):
    ingest = validate_params(default_params).ingest
    assert (ingest.source, ingest.domain) == ("sklearn_digits", "handwritten")
