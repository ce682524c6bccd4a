"""Settings come from REELFORGE_* variables only through load_settings."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from reelforge.errors import ConfigError
from reelforge.settings import Settings, load_settings


def test_variables_in_any_case_set_their_fields_and_others_are_ignored():
    settings = load_settings(
        {
            "REELFORGE_DATA_DIR": "/srv/reelforge",
            "reelforge_debug": "1",
            "REELFORGE_JOB_LEASE_S": "2.5",
            "REELFORGE_VIDEO_PRESET": "slow",
            "REELFORGE_WATERMARK_KEY": "ab" * 32,
            "REELFORGE_NOT_A_FIELD": "x",
            "HOME": "/root",
        }
    )
    assert settings.data_dir == Path("/srv/reelforge")
    assert settings.debug is True
    assert settings.job_lease_s == 2.5
    assert settings.video_preset == "slow"
    assert settings.watermark_key is not None
    assert settings.watermark_key.get_secret_value() == "ab" * 32
    assert load_settings({}) == Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REELFORGE_DIT_STEPS", "0"),
        ("REELFORGE_VIDEO_PRESET", "warp"),
        ("reelforge_max_attempts", "three"),
    ],
)
def test_a_bad_value_is_one_error_naming_the_variable(name, value):
    with pytest.raises(ConfigError) as caught:
        load_settings({name: value})
    assert caught.value.param == name.upper()
    assert str(caught.value).startswith(name.upper() + ": ")


def test_settings_never_read_the_environment(monkeypatch):
    monkeypatch.setenv("REELFORGE_DEBUG", "1")
    assert Settings().debug is False
    assert Settings(video_crf=20).debug is False
    assert load_settings().debug is True


def test_an_unknown_keyword_is_refused():
    with pytest.raises(ValidationError, match="video_crff"):
        Settings(video_crff=20)  # type: ignore[call-arg]
