"""GET /v1/models on a real `reelforge serve`, read by the official `openai` SDK: the API
names and the engines, which engine each maps to, and the capabilities a create is
checked against (a create the engine cannot serve is a 400 naming the field)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from tests.app.test_notifications import Server, start_server

from reelforge.db.keys import create_key
from reelforge.db.session import make_engine, session_factory, transaction
from reelforge.settings import Settings

warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, openai.OpenAI]]:
    data = tmp_path_factory.mktemp("models") / "data"
    env = {"REELFORGE_SORA2_PRO_ENGINE": "dit"}  # sora-2 stays on the default, sim
    running = start_server(data, **env)
    engine = make_engine(Settings(data_dir=data))  # the server's own database
    with transaction(session_factory(engine)) as session:
        key = create_key(session, "ada")
    engine.dispose()
    yield running, openai.OpenAI(base_url=f"{running.url}/v1", api_key=key, max_retries=0)
    running.stop()


def test_the_sdk_lists_models_with_their_engines_and_capabilities(
    server: tuple[Server, openai.OpenAI],
) -> None:
    _, client = server
    models = {model.id: model for model in client.models.list()}
    assert {"sora-2", "sora-2-pro", "sora-2-2025-10-06", "sim", "dit", "ltx2"} <= set(models)
    assert all(m.object == "model" and m.owned_by == "reelforge" for m in models.values())
    pro = models["sora-2-pro"].model_extra["reelforge"]  # type: ignore[index]
    assert pro["engine"] == "dit" and pro["installed"] is True
    assert pro["capabilities"]["max_seconds"] == 12.0
    sora = models["sora-2"].model_extra["reelforge"]  # type: ignore[index]
    assert sora["engine"] == "sim" and sora["capabilities"]["max_seconds"] == 20.0
    assert models["sora-2-2025-10-06"].created == 1759708800  # its date, 2025-10-06 UTC
    ltx2 = models["ltx2"].model_extra["reelforge"]  # type: ignore[index]
    assert ltx2["engine"] == "ltx2"
    assert ltx2["installed"] == (ltx2["capabilities"] is not None)
    assert ltx2["installed"] or "not installed" in ltx2["problem"]

    one = client.models.retrieve("sora-2-pro-2030-01-01")  # any dated variant
    assert one.id == "sora-2-pro-2030-01-01" and one.model_extra["reelforge"]["engine"] == "dit"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("gpt-4o")
    assert missing.value.body["param"] == "model"  # type: ignore[index]


def test_a_create_past_the_engines_limits_is_a_400_naming_the_field(
    server: tuple[Server, openai.OpenAI],
) -> None:
    _, client = server
    sixteen: Any = "16"  # the SDK's types stop at 12; the API takes 4..20
    with pytest.raises(openai.BadRequestError) as refused:
        client.videos.create(model="sora-2-pro", prompt="a red ball bounces", seconds=sixteen)
    assert refused.value.body["param"] == "seconds"  # type: ignore[index]
    assert "at most 12" in refused.value.body["message"]  # type: ignore[index]
    assert client.videos.list().data == []  # nothing was stored
    made = client.videos.create(model="sora-2", prompt="a red ball bounces", seconds=sixteen)
    assert made.status == "queued"  # sim makes 16 s
