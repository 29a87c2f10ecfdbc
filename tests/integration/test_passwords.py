"""Lost password is not lost service (issue 21): ThingsBoard's password change, a tenant admin's
one-time reset link, and the operator's reset by e-mail. Each ends the user's earlier sessions: JWTs
issued before the change are refused at once on this node. A wrong current password counts as a
failed login guess.
"""

from __future__ import annotations

import uuid

import pytest

from claimd.domain.errors import AuthenticationFailed, InvalidArgument, NotFound, PermissionDenied
from claimd.domain.lockout import Lockout
from claimd.services.accounts import RESET_TTL_MS, LoginLockedOut
from claimd.services.guesses import GuessPolicy

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@tenant.test", "admin-password"  # the world fixture's (tests/conftest.py)
USER_EMAIL, USER_PASSWORD = "user@c1.test", "user-password"
SOURCE = "203.0.113.66"


async def session(container, email, password):
    """A logged-in principal that went through the per-request check once (so it is cached)."""
    access, refresh = await container.accounts.login(email, password)
    principal = await container.accounts.ensure_active(container.tokens.principal(access))
    return principal, refresh


async def test_a_password_change_ends_earlier_sessions_and_answers_a_fresh_pair(container, world):
    accounts = container.accounts
    old, old_refresh = await session(container, USER_EMAIL, USER_PASSWORD)
    access, refresh = await accounts.change_password(old, USER_PASSWORD, "a-new-password")
    with pytest.raises(AuthenticationFailed):  # the old session, at once, though it was cached
        await accounts.ensure_active(old)
    with pytest.raises(AuthenticationFailed):
        await accounts.refresh(old_refresh)
    assert (await accounts.ensure_active(container.tokens.principal(access))).user_id == old.user_id
    assert await accounts.refresh(refresh)
    with pytest.raises(AuthenticationFailed):
        await accounts.login(USER_EMAIL, USER_PASSWORD)
    assert await accounts.login(USER_EMAIL, "a-new-password")
    # another user's sessions are untouched
    assert await accounts.ensure_active(world.u2)


async def test_a_wrong_current_or_short_new_password_is_refused_and_changes_nothing(container, world):
    principal, _ = await session(container, USER_EMAIL, USER_PASSWORD)
    with pytest.raises(InvalidArgument, match="Current password"):
        await container.accounts.change_password(principal, "wrong-password", "a-new-password")
    with pytest.raises(InvalidArgument, match="at least"):
        await container.accounts.change_password(principal, USER_PASSWORD, "short")
    assert await container.accounts.ensure_active(principal)
    assert await container.accounts.login(USER_EMAIL, USER_PASSWORD)


async def test_guessing_the_current_password_is_a_failed_login_and_locks_out(container, world):
    lockout = Lockout(3, base_ms=60_000, max_ms=60_000)
    container.accounts.guesses.policy = GuessPolicy(lockout, lockout, lockout, lockout)
    principal, _ = await session(container, USER_EMAIL, USER_PASSWORD)
    for n in range(4):
        with pytest.raises(InvalidArgument):
            await container.accounts.change_password(principal, f"guess-{n}", "a-new-password", SOURCE)
    with pytest.raises(LoginLockedOut):  # even the right current password now waits
        await container.accounts.change_password(principal, USER_PASSWORD, "a-new-password", SOURCE)
    with pytest.raises(LoginLockedOut):  # and so does a login to the account
        await container.accounts.login(USER_EMAIL, USER_PASSWORD)


async def test_a_reset_link_works_once_before_it_expires_and_ends_earlier_sessions(container, world, clock):
    accounts = container.accounts
    old, _ = await session(container, USER_EMAIL, USER_PASSWORD)
    token = await accounts.new_reset_token(world.admin, old.user_id)
    access, _refresh = await accounts.reset_password(token, "reset-password-1")
    assert container.tokens.principal(access).user_id == old.user_id
    with pytest.raises(AuthenticationFailed):
        await accounts.ensure_active(old)
    with pytest.raises(InvalidArgument):  # once
        await accounts.reset_password(token, "reset-password-2")
    assert await accounts.login(USER_EMAIL, "reset-password-1")
    # a newer link replaces the older; a link expires after a day
    first = await accounts.new_reset_token(world.admin, old.user_id)
    second = await accounts.new_reset_token(world.admin, old.user_id)
    with pytest.raises(InvalidArgument):
        await accounts.reset_password(first, "reset-password-3")
    clock.advance(RESET_TTL_MS + 1)
    with pytest.raises(InvalidArgument):
        await accounts.reset_password(second, "reset-password-3")
    with pytest.raises(InvalidArgument, match="at least"):
        await accounts.reset_password(await accounts.new_reset_token(world.admin, old.user_id), "short")


async def test_only_a_tenant_admin_fetches_a_reset_link_for_its_own_tenants_users(container, world):
    with pytest.raises(PermissionDenied):
        await container.accounts.new_reset_token(world.u1, world.u2.user_id)
    with pytest.raises(NotFound):
        await container.accounts.new_reset_token(world.admin, uuid.uuid4())


async def test_the_operators_reset_by_email_ends_earlier_sessions(container, world):
    old, _ = await session(container, ADMIN_EMAIL, ADMIN_PASSWORD)
    await container.accounts.set_password_by_email(ADMIN_EMAIL.upper(), "operator-set-1")
    with pytest.raises(AuthenticationFailed):
        await container.accounts.ensure_active(old)
    assert await container.accounts.login(ADMIN_EMAIL, "operator-set-1")
    with pytest.raises(NotFound):
        await container.accounts.set_password_by_email("nobody@tenant.test", "operator-set-1")
