"""A contract test: schemathesis fuzzes a real `reelforge serve` against the server's own
OpenAPI document (every operation it lists, with its coverage, fuzzing and stateful
phases): no generated request may get a 5xx, and every answer with a declared shape
(the /v1/videos routes' models, the app's) has it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.e2e.test_videos_api import start_server, stop

SCHEMATHESIS = Path(sys.executable).with_name("st")


@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="schemathesis is not installed")
def test_no_generated_request_gets_a_server_error(tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        "--no-worker",  # created jobs wait in the queue: the contract is the HTTP layer's
        # Limits high enough that the fuzzer reaches the handlers rather than the limiter
        # (the limiter has its own tests).
        REELFORGE_RATE_LIMIT_PER_MINUTE="100000",
        REELFORGE_POLL_RATE_LIMIT_PER_MINUTE="100000",
        REELFORGE_VERIFY_RATE_LIMIT_PER_MINUTE="100000",
        REELFORGE_LOGIN_PER_MINUTE="100000",
        REELFORGE_MAX_ACTIVE_JOBS_PER_USER="100000",
    )
    try:
        key = server.key("fuzz")
        base = server.url.removesuffix("/v1")
        document = httpx.get(f"{base}/openapi.json", timeout=10).json()
        run = subprocess.run(
            [
                str(SCHEMATHESIS),
                "run",
                f"{base}/openapi.json",
                "--checks",
                "not_a_server_error,response_schema_conformance",
                "--max-examples",
                "15",
                "--header",
                f"Authorization: Bearer {key}",
                # An endless event stream: a request to it never ends by design.
                "--exclude-path",
                "/api/notifications/stream",
                "--request-timeout",
                "30",
                "--generation-deterministic",
                "--workers",
                "1",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        stop(server.process)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-6000:]
    tested = re.search(r"Tested: (\d+)", report)
    generated = re.search(r"(\d+) generated", report)
    assert tested and int(tested.group(1)) >= 80, report[-3000:]  # every operation but one
    assert generated and int(generated.group(1)) >= 1000, report[-3000:]
    # The API key is declared, so the fuzzer (and /docs, and generated clients) send it.
    scheme = document["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, method in (("/v1/videos", "post"), ("/v1/videos/{video_id}", "get")):
        assert document["paths"][path][method]["security"] == [{"apiKey": []}]
    # The /v1 routes publish their answers' shapes, which the run above held them to.
    for path, method, model in (
        ("/v1/videos", "post", "VideoPublic"),
        ("/v1/videos", "get", "VideoList"),
        ("/v1/videos/{video_id}", "get", "VideoPublic"),
        ("/v1/videos/{video_id}", "delete", "VideoDeleted"),
        ("/v1/videos/{video_id}/remix", "post", "VideoPublic"),
        ("/v1/videos/edits", "post", "VideoPublic"),
        ("/v1/videos/extensions", "post", "VideoPublic"),
        ("/v1/videos/characters", "post", "CharacterPublic"),
        ("/v1/videos/characters", "get", "CharacterList"),
        ("/v1/videos/characters/{character_id}", "get", "CharacterPublic"),
        ("/v1/videos/characters/{character_id}", "delete", "CharacterDeleted"),
        ("/v1/models", "get", "ModelList"),
        ("/v1/models/{model}", "get", "ModelPublic"),
        ("/v1/provenance/verify", "post", "VerificationPublic"),
    ):
        answer = document["paths"][path][method]["responses"]["200"]["content"]
        assert answer["application/json"]["schema"]["$ref"].endswith(f"/{model}"), path
    # So do the app's cameo routes (service/api/schemas.py), held to them by the same run.
    for path, method, model in (
        ("/api/cameos", "get", "CameoListOut"),
        ("/api/cameos/{handle}", "get", "CameoDetailOut"),
        ("/api/cameos/{handle}", "patch", "CameoUpdatedOut"),
        ("/api/cameos/{handle}", "delete", "CameoDeletedOut"),
        ("/api/cameos/{handle}/log", "get", "ConsentLogOut"),
        ("/api/cameos/{handle}/videos", "get", "CameoVideosOut"),
        ("/api/cameos/challenge", "post", "ChallengeOut"),
        ("/api/cameos/verify", "post", "CameoVerificationOut"),
    ):
        answer = document["paths"][path][method]["responses"]["200"]["content"]
        assert answer["application/json"]["schema"]["$ref"].endswith(f"/{model}"), path
    take = document["paths"]["/api/cameos/verify"]["post"]["requestBody"]["content"]
    assert take["multipart/form-data"]["schema"]["$ref"].endswith("/TakeIn")
    # ... and their requests' shapes, as JSON and as a form (the SDK's way).
    for path, model in (
        ("/v1/videos", "VideoCreate"),
        ("/v1/videos/{video_id}/remix", "VideoRemix"),
        ("/v1/videos/edits", "VideoEdit"),
        ("/v1/videos/extensions", "VideoExtension"),
        ("/v1/videos/characters", "CharacterCreate"),
        ("/v1/provenance/verify", "VerifyUpload"),
    ):
        content = document["paths"][path]["post"]["requestBody"]["content"]
        assert "multipart/form-data" in content, path
        for each in content.values():
            name = each["schema"]["$ref"].rsplit("/", 1)[1]
            assert name.startswith(model) and name in document["components"]["schemas"], path
    create = document["components"]["schemas"]["VideoCreate"]
    assert create["required"] == ["prompt"]
    assert create["properties"]["seconds"]["enum"] == ["4", "8", "12", "16", "20"]
    video = document["components"]["schemas"]["VideoPublic"]
    assert set(video["required"]) >= {"id", "object", "status", "progress", "size", "seconds"}
