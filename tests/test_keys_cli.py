"""`reelforge keys create|list|revoke|rotate` as an operator runs them: real processes on
one data folder, and a running app that must refuse a key the moment it is revoked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from reelforge.service.app import create_app
from reelforge.settings import Settings
from tests.test_cli import run_cli


def ok(*args: str, cwd: Path) -> tuple[str, str]:
    run = run_cli("keys", *args, cwd=cwd)
    assert run.returncode == 0, run.stderr
    return run.stdout, run.stderr


def listed(cwd: Path, *args: str) -> list[dict[str, Any]]:
    out, _ = ok("list", "--json", *args, cwd=cwd)
    return [json.loads(line) for line in out.splitlines()]


def test_list_revoke_rotate_and_the_server_refuses_at_once(tmp_path: Path) -> None:
    ada_key = ok("create", "--user", "ada", cwd=tmp_path)[0].strip()
    bob_key = ok("create", "--user", "bob", cwd=tmp_path)[0].strip()
    keys = listed(tmp_path)
    assert sorted(k["user"] for k in keys) == ["ada", "bob"]
    assert all(k["revoked"] is False for k in keys)
    assert all(ada_key not in json.dumps(k) and bob_key not in json.dumps(k) for k in keys)
    (ada,) = listed(tmp_path, "--user", "ada")
    assert ada_key.startswith(str(ada["prefix"]))

    table, _ = ok("list", cwd=tmp_path)
    header, *rows = table.splitlines()
    assert header.split() == ["ID", "USER", "PREFIX", "CREATED", "(UTC)", "REVOKED"]
    assert len(rows) == 2 and any(str(ada["id"]) in row and "ada" in row for row in rows)

    app = create_app(Settings(data_dir=tmp_path / "data"), run_worker=False)
    with TestClient(app, base_url="http://localhost") as client:

        def status(key: str) -> int:
            headers = {"authorization": f"Bearer {key}"}
            return client.get("/v1/videos", headers=headers).status_code

        assert status(ada_key) == status(bob_key) == 200

        # Rotate: one new key on stdout, the old one dead at once, bob untouched.
        out, err = ok("rotate", str(ada["id"]), cwd=tmp_path)
        new_key = out.strip()
        assert len(out.splitlines()) == 1 and new_key.startswith("rf_") and new_key != ada_key
        assert str(ada["id"]) in err and "revoked" in err
        assert (status(ada_key), status(new_key), status(bob_key)) == (401, 200, 200)

        # Revoke: at once; twice is fine and says so.
        (bob,) = listed(tmp_path, "--user", "bob")
        out, err = ok("revoke", str(bob["id"]), cwd=tmp_path)
        assert out == "" and "is revoked" in err
        assert status(bob_key) == 401
        out, err = ok("revoke", str(bob["id"]), cwd=tmp_path)
        assert "already revoked" in err

    assert [k["user"] for k in listed(tmp_path)] == ["ada"]  # only the live one
    everything = listed(tmp_path, "--all")
    assert sorted((k["user"], k["revoked"]) for k in everything) == [
        ("ada", False),
        ("ada", True),
        ("bob", True),
    ]
    table, _ = ok("list", "--all", cwd=tmp_path)
    assert sum(row.rstrip().endswith("yes") for row in table.splitlines()) == 2


def test_unknown_ids_and_bad_names_are_one_line_and_change_nothing(tmp_path: Path) -> None:
    ok("create", "--user", "ada", cwd=tmp_path)
    (ada,) = listed(tmp_path)
    for command in ("revoke", "rotate"):
        run = run_cli("keys", command, "key_0000000000000000", cwd=tmp_path)
        assert run.returncode == 1 and run.stdout == ""
        assert run.stderr.strip().splitlines() == [
            "reelforge keys: error: key_id: no API key 'key_0000000000000000'"
        ]
    unknown_user = run_cli("keys", "list", "--user", "zed", cwd=tmp_path)
    assert unknown_user.returncode == 1 and "user" in unknown_user.stderr
    blank = run_cli("keys", "create", "--user", "  ", cwd=tmp_path)
    assert blank.returncode == 2 and len(blank.stderr.strip().splitlines()) == 1
    assert "user" in blank.stderr

    ok("revoke", str(ada["id"]), cwd=tmp_path)
    again = run_cli("keys", "rotate", str(ada["id"]), cwd=tmp_path)
    assert again.returncode == 1 and again.stdout == "" and "is revoked" in again.stderr
    assert [(k["id"], k["revoked"]) for k in listed(tmp_path, "--all")] == [(ada["id"], True)]
