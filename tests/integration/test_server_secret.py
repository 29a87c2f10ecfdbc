"""The server secret and its fingerprint in the database: a database refuses any other secret, and a
node never generates a new secret for a database that already has one (device tokens and sealed rows
would stop working, on PostgreSQL above all, where the secret is not kept beside the database)."""

from __future__ import annotations

import pytest

from claimd.bootstrap import build
from claimd.config import SettingError


async def test_a_database_refuses_another_secret(backend):
    container = await build(backend)
    await container.close()
    again = await build(backend)  # the same secret starts again
    await again.close()
    other = backend.model_copy(update={"secret": type(backend.secret)("another-secret")})
    with pytest.raises(SettingError, match="CLAIMD_SECRET") as caught:
        await build(other)
    assert "another-secret" not in str(caught.value) and "\n" not in str(caught.value)


async def test_no_secret_is_generated_for_a_database_that_has_one(backend, tmp_path, monkeypatch):
    container = await build(backend)  # CLAIMD_SECRET given: its fingerprint is recorded
    await container.close()
    elsewhere = tmp_path / "another-directory"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # on PostgreSQL the secret file is looked for in the working directory
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(SettingError, match=r"CLAIMD_SECRET") as caught:
        await build(backend.model_copy(update={"secret": None}))
    assert sorted(tmp_path.rglob("*")) == before, "no secret may be generated for a database that has one"
    assert str(tmp_path) in str(caught.value) and "\n" not in str(caught.value)  # names the file it looked in


async def test_a_generated_secret_is_recorded_and_found_again(backend, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    unset = backend.model_copy(update={"secret": None})
    first = await build(unset)  # generates the file (beside SQLite, in the working directory otherwise)
    await first.close()
    again = await build(unset)
    await again.close()
    with pytest.raises(SettingError, match="CLAIMD_SECRET"):
        await build(backend)  # the test secret is not the one this database was first started with
