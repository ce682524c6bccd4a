"""shipped.py: one build per key, even from threads asking at once; failures keep nothing."""

import threading
import time

import pytest

from reelforge import shipped


@pytest.fixture(autouse=True)
def _clean():
    yield
    shipped.forget()


def test_one_build_per_key_however_many_threads_ask():
    builds: list[str] = []

    def build(name: str) -> object:
        builds.append(name)
        time.sleep(0.05)  # long enough for every thread to ask while it builds
        return object()

    values: list[object] = []
    threads = [
        threading.Thread(target=lambda: values.append(shipped.shared("t", "a", lambda: build("a"))))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == ["a"] and len({id(v) for v in values}) == 1
    other = shipped.shared("t", "b", lambda: build("b"))
    assert other is not values[0] and builds == ["a", "b"]
    assert shipped.shared("u", "a", lambda: build("u")) is not values[0]  # kinds apart
    assert [entry for entry in shipped.loaded() if entry[0] in "tu"] == [
        ("t", "a"),
        ("t", "b"),
        ("u", "a"),
    ]


def test_a_failed_build_keeps_nothing_and_a_build_may_ask_for_another_value():
    def broken() -> object:
        raise OSError("unreadable")

    with pytest.raises(OSError):
        shipped.shared("t", "x", broken)
    assert ("t", "x") not in shipped.loaded()
    inner = shipped.shared("t", "x", lambda: shipped.shared("t", "y", lambda: 42) + 1)
    assert inner == 43 and shipped.shared("t", "x", broken) == 43
    shipped.forget()
    assert shipped.loaded() == []


def test_the_loaders_share_through_it(tmp_path):
    from reelforge.recaption.embedding import shared_encoder
    from reelforge.safety.resources import policy_encoder, text_tools

    assert shared_encoder() is shared_encoder(None)
    assert policy_encoder() is not shared_encoder()  # tuned, kept apart
    tools = text_tools()
    kinds = {kind for kind, _ in shipped.loaded()}
    assert {"sentence encoder", "policy sentence encoder", "policy text tools"} <= kinds
    shipped.forget()
    assert text_tools() is not tools
