"""docs/reference/params.md is generated from the schema and never stale."""

from __future__ import annotations

from helpers.repository import PROJECT_ROOT

from traindev import params_reference
from traindev.config import Params


def test_committed_params_reference_is_up_to_date():
    page = PROJECT_ROOT / params_reference.PAGE
    assert page.read_text() == params_reference.render(), (
        f"{params_reference.PAGE} is stale: run `python -m traindev.params_reference`"
    )


def test_check_mode_fails_on_a_stale_page(tmp_path, capsys):
    page = tmp_path / "params.md"
    assert params_reference.main(["--check", "--page", str(page)]) == 1
    assert params_reference.main(["--page", str(page)]) == 0
    assert params_reference.main(["--check", "--page", str(page)]) == 0
    page.write_text(page.read_text().replace("Passes over the training set.", "Epochs."))
    assert params_reference.main(["--check", "--page", str(page)]) == 1
    assert "is stale" in capsys.readouterr().err


def test_page_names_every_key_with_its_default_and_description():
    page = params_reference.render()
    assert "| `train.epochs` | integer >= 1 | `15` | Passes over the training set. |" in page
    assert "| `train.num_workers` | integer or `auto` | `auto` |" in page
    assert "### `models.deep_nn`" in page and "`models.deep_nn.batch_norm`" in page
    assert "### `select.satisficing[]`" in page and "### `split.sources.<name>`" in page
    for section in Params.model_fields:
        assert f"## `{section}`" in page
