"""Lost password is not lost service (issue 21), against real servers: a changed password refuses the
old session (ThingsBoard's ``POST /api/auth/changePassword``), a tenant admin's reset link signs a
user back in, and ``claimd admin reset-password`` run against a stopped server's database lets the
admin log in once the server is started again.
"""

from __future__ import annotations

import subprocess
import sys

import httpx
from http_helpers import Api, assert_error
from servers import start_server

CLAIMD = [sys.executable, "-m", "claimd"]


def test_a_changed_password_refuses_the_old_session_and_a_reset_link_signs_back_in(tmp_path):
    server = start_server(tmp_path)
    try:
        base = server.base_url
        old = Api.login(base, server.admin_email, server.admin_password)
        assert old.get("/api/auth/user").status_code == 200
        assert_error(
            old.post(
                "/api/auth/changePassword", json={"currentPassword": "wrong-password", "newPassword": "new-password-1"}
            ),
            400,
            contains="Current password",
        )
        assert_error(
            old.post(
                "/api/auth/changePassword", json={"currentPassword": server.admin_password, "newPassword": "short"}
            ),
            400,
        )
        assert old.get("/api/auth/user").status_code == 200  # refused changes end nothing
        r = old.post(
            "/api/auth/changePassword", json={"currentPassword": server.admin_password, "newPassword": "new-password-1"}
        )
        assert r.status_code == 200, r.text
        fresh = Api(base, r.json()["token"], r.json()["refreshToken"])
        assert_error(old.get("/api/auth/user"), 401, code=11, message="Token is outdated")  # ended, as ThingsBoard says
        r = httpx.post(base + "/api/auth/token", json={"refreshToken": old.refresh_token})
        assert r.status_code == 401, r.text
        me = fresh.ok("get", "/api/auth/user")
        assert (
            httpx.post(
                base + "/api/auth/login", json={"username": server.admin_email, "password": server.admin_password}
            ).status_code
            == 401
        )
        # a reset link: text, one time, answers a JWT pair; the new password's session ends too
        r = fresh.get(f"/api/user/{me['id']['id']}/passwordResetLink")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
        assert r.text.startswith(base + "/api/noauth/resetPassword?resetToken=")
        token = r.text.split("resetToken=", 1)[1]
        r = httpx.post(base + "/api/noauth/resetPassword", json={"resetToken": token, "password": "new-password-2"})
        assert r.status_code == 200 and set(r.json()) >= {"token", "refreshToken"}, r.text
        assert Api(base, r.json()["token"]).get("/api/auth/user").status_code == 200
        assert_error(fresh.get("/api/auth/user"), 401, code=11)
        assert_error(
            httpx.post(base + "/api/noauth/resetPassword", json={"resetToken": token, "password": "new-password-3"}),
            400,
        )
        Api.login(base, server.admin_email, "new-password-2")
    finally:
        server.stop()


def test_admin_reset_password_against_a_stopped_servers_database(tmp_path):
    server = start_server(tmp_path)
    old = Api.login(server.base_url, server.admin_email, server.admin_password)
    server.stop()
    env = {**server.env, "CLAIMD_NEW_PASSWORD": "operator-password-1"}
    done = subprocess.run(
        [*CLAIMD, "admin", "reset-password", server.admin_email],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "operator-password-1" not in done.stdout + done.stderr
    unknown = subprocess.run(
        [*CLAIMD, "admin", "reset-password", "nobody@example.com"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2 and unknown.stderr.strip().count("\n") == 0, unknown
    assert "nobody@example.com" in unknown.stderr
    generated = subprocess.run(
        [*CLAIMD, "admin", "reset-password", "--generate", server.admin_email],
        cwd=tmp_path,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert generated.returncode == 0, generated.stderr
    password = generated.stdout.strip().rsplit(" ", 1)[1]

    again = start_server(tmp_path, extra_env={"CLAIMD_ADMIN_PASSWORD": None})
    try:
        assert_error(Api(again.base_url, old.token).get("/api/auth/user"), 401, code=11)  # the old session ended
        for stale in (server.admin_password, "operator-password-1"):
            assert (
                httpx.post(
                    again.base_url + "/api/auth/login", json={"username": again.admin_email, "password": stale}
                ).status_code
                == 401
            )
        Api.login(again.base_url, again.admin_email, password).ok("get", "/api/auth/user")
    finally:
        again.stop()
