"""`headwater audience preview NAME` prints the membership and sample payloads and sends nothing;
`headwater audience lint` reports broken audience files with their locations."""

from __future__ import annotations

import json

import yaml

from headwater.activation.members import acknowledged
from headwater.cli import main
from tests.activation.conftest import WEBHOOK, load_people


def test_preview(store, receiver, tmp_path, monkeypatch, capsys) -> None:
    folder = tmp_path / "audiences"
    folder.mkdir()
    (folder / "vip.yaml").write_text(yaml.safe_dump({
        "condition": "loyalty_tier = 'gold'", "variables": [{"name": "name", "expr": "upper(first_name)"}],
        "destinations": [WEBHOOK],
    }))
    monkeypatch.setenv("HEADWATER_AUDIENCES_DIR", str(folder))
    load_people(store, [{"crm_id": f"c{i}", "email": f"p{i}@example.com", "loyalty_tier": "gold", "first_name": f"p{i}"}
                        for i in range(3)] + [{"crm_id": "c9", "email": "bad", "loyalty_tier": "gold"}])
    assert main(["audience", "preview", "vip", "--sample", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "audience vip: 4 member(s)"
    assert out[1] == "  hook (webhook): 4 add, 0 remove, 0 modify to send; invalid: IDENTITY_MALFORMED 1"
    assert out[2] == "    IDENTITY_MALFORMED: not a well-formed email: 'bad'"
    payloads = [json.loads(line) for line in out[3:]]
    assert len(payloads) == 2 and {p["op"] for p in payloads} == {"add"}
    assert payloads[0]["variables"]["name"].startswith("P")
    assert receiver.requests == 0
    assert len(acknowledged(store, "vip", "hook")) == 0


def test_preview_unknown_audience(store, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HEADWATER_AUDIENCES_DIR", str(tmp_path))
    assert main(["audience", "preview", "nope"]) == 1
    assert "no audience 'nope'; audiences: none" in capsys.readouterr().err


def test_lint(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"condition": "x =", "destinations": [WEBHOOK]}))
    monkeypatch.setenv("HEADWATER_AUDIENCES_DIR", str(tmp_path))
    assert main(["audience", "lint"]) == 1
    out, err = capsys.readouterr()
    assert f"{tmp_path / 'bad.yaml'}: condition: invalid expression: expected a value at position 3" in out
    assert "1 audience file(s) checked, 1 invalid" in err
