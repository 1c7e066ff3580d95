"""One champion per problem: the registered model is named after the experiment's configuration."""

from __future__ import annotations

import pytest

from traindev.config import ParamsError
from traindev.params_file import validate_params


def with_target(raw: dict, domain: str) -> dict:
    raw["ingest"]["domain"] = raw["split"]["target_domain"] = domain
    return raw


def test_default_name_holds_the_task_and_the_target_domain(default_params):
    name = validate_params(default_params).registered_model()
    assert name == "traindev-classification-handwritten"


def test_another_target_domain_or_task_gets_its_own_registered_model(default_params):
    names = {validate_params(with_target(default_params, "usps")).registered_model()}
    default_params["train"]["multilabel"] = ["is_even"]
    names.add(validate_params(default_params).registered_model())
    assert names == {"traindev-classification-usps", "traindev-multilabel-usps"}


def test_characters_a_model_uri_cannot_hold_become_dashes(default_params):
    params = validate_params(with_target(default_params, "phone photos/2024:v1@x"))
    assert params.registered_model() == "traindev-classification-phone-photos-2024-v1-x"


def test_a_fixed_name_is_still_allowed(default_params):
    default_params["select"]["registered_model"] = "digits"
    assert validate_params(default_params).registered_model() == "digits"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("traindev-{domain}", r"unknown field \{domain\}; use \{task\} and/or \{target_domain\}"),
        ("team/traindev-{task}", "cannot hold '/', ':' or '@'"),
    ],
)
def test_a_bad_template_is_a_params_error(default_params, template, message):
    default_params["select"]["registered_model"] = template
    with pytest.raises(ParamsError, match=message):
        validate_params(default_params)
