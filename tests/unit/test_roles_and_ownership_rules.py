"""Roles and permissions (domain/roles.py), Principal.can (domain/model.py), and the ownership rules
of domain/ownership.py: the token-claim decision table, tags, and who sees which device.

Pure unit tests: no database, no network.
"""

from __future__ import annotations

import itertools
import uuid

import pytest

from claimd.domain.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from claimd.domain.model import Authority, Device, Principal
from claimd.domain.ownership import (
    MAX_TAG_LENGTH,
    MAX_TAGS_PER_DEVICE,
    BadSignature,
    ChallengeExpired,
    ChallengeRequired,
    ClaimedDevice,
    ClaimedStatus,
    DeviceBlocked,
    OwnedByAnother,
    Ownership,
    ReplayedToken,
    UnknownDevice,
    check_tag,
    decide_ownership,
    parse_tags,
    require_claimable,
    visible_to,
)
from claimd.domain.roles import (
    ALL_PERMISSIONS,
    BUILT_IN_ROLES,
    DEFAULT_ROLE,
    DEVICE_BLOCK,
    DEVICE_CLAIM,
    DEVICE_READ,
    DEVICE_READ_RESTRICTED,
    DEVICE_TAG,
    DEVICE_UNCLAIM,
    PERMISSIONS,
    TAG_READ,
    TAG_WRITE,
    USER_WRITE,
    Operation,
    Permission,
    Resource,
    Role,
    check_role_name,
    parse_permissions,
)

VIEWER, EDITOR, ADMIN, OWNER = (BUILT_IN_ROLES[n] for n in ("VIEWER", "EDITOR", "ADMIN", "OWNER"))
CHAIN = [VIEWER, EDITOR, ADMIN, OWNER]

TENANT = uuid.UUID("00000000-0000-4000-8000-000000000001")
OTHER_TENANT = uuid.UUID("00000000-0000-4000-8000-000000000002")
C1 = uuid.UUID("00000000-0000-4000-8000-0000000000c1")
C2 = uuid.UUID("00000000-0000-4000-8000-0000000000c2")


def principal(
    authority: Authority = Authority.CUSTOMER_USER,
    *,
    role: Role | None = None,
    tenant: uuid.UUID = TENANT,
    customer: uuid.UUID | None = C1,
) -> Principal:
    kwargs = {} if role is None else {"role": role}
    if authority is not Authority.CUSTOMER_USER and customer is C1:
        customer = None
    return Principal(
        user_id=uuid.uuid4(),
        tenant_id=tenant,
        customer_id=customer,
        authority=authority,
        email="someone@example.com",
        **kwargs,
    )


def device(
    *, tenant: uuid.UUID = TENANT, customer: uuid.UUID | None = C1, restricted: bool = False, blocked: bool = False
) -> Device:
    return Device(
        id=uuid.uuid4(),
        tenant_id=tenant,
        customer_id=customer,
        name=f"dev-{uuid.uuid4().hex[:8]}",
        type="default",
        created_time=1,
        claim_restricted=restricted,
        blocked_at=5 if blocked else None,
    )


# --- built-in roles ------------------------------------------------------------------------------


def test_built_in_roles_are_exactly_the_four_nrf_team_roles():
    assert set(BUILT_IN_ROLES) == {"OWNER", "ADMIN", "EDITOR", "VIEWER"}
    for name, role in BUILT_IN_ROLES.items():
        assert role.name == name
        assert role.built_in is True
        assert role.description


@pytest.mark.parametrize(("smaller", "larger"), list(itertools.combinations(CHAIN, 2)), ids=lambda r: r.name)
def test_built_in_roles_are_strictly_nested(smaller, larger):
    assert smaller.permissions < larger.permissions  # proper subset


def test_owner_holds_every_permission_and_is_the_default_role():
    assert OWNER.permissions == ALL_PERMISSIONS == frozenset(PERMISSIONS.values())
    assert DEFAULT_ROLE is OWNER


def test_viewer_only_reads():
    assert VIEWER.permissions  # not empty
    assert all(p.operation is Operation.READ for p in VIEWER.permissions)
    assert DEVICE_READ in VIEWER.permissions and TAG_READ in VIEWER.permissions
    assert not VIEWER.allows(DEVICE_CLAIM)
    # every READ permission except the restricted view is the viewer's
    assert VIEWER.permissions == {p for p in ALL_PERMISSIONS if p.operation is Operation.READ}


def test_editor_claims_but_does_not_see_restricted_devices():
    assert EDITOR.allows(DEVICE_CLAIM)  # ThingsBoard's CUSTOMER_USER claim call needs it
    for permission in (DEVICE_UNCLAIM, DEVICE_BLOCK, DEVICE_TAG, TAG_WRITE):
        assert EDITOR.allows(permission)
    assert not EDITOR.allows(DEVICE_READ_RESTRICTED)
    assert not EDITOR.allows(USER_WRITE)


def test_admin_sees_restricted_devices_but_does_not_manage_users():
    assert ADMIN.allows(DEVICE_READ_RESTRICTED)
    assert ADMIN.allows(DEVICE_CLAIM)
    assert not ADMIN.allows(USER_WRITE)
    assert OWNER.allows(USER_WRITE)
    assert ADMIN.permissions | {USER_WRITE} == OWNER.permissions
    assert EDITOR.permissions | {DEVICE_READ_RESTRICTED} == ADMIN.permissions


def test_permission_names():
    assert str(DEVICE_CLAIM) == "DEVICE:CLAIM"
    assert str(DEVICE_READ_RESTRICTED) == "DEVICE:READ_RESTRICTED"
    assert PERMISSIONS["DEVICE:CLAIM"] == DEVICE_CLAIM == Permission(Resource.DEVICE, Operation.CLAIM)
    assert all(name == str(p) for name, p in PERMISSIONS.items())
    assert len(PERMISSIONS) == 14


# --- parse_permissions ---------------------------------------------------------------------------


def test_parse_permissions_is_case_insensitive_and_deduplicates():
    parsed = parse_permissions(["device:claim", "Device:Read", "DEVICE:READ", "tag:WRITE"])
    assert parsed == frozenset({DEVICE_CLAIM, DEVICE_READ, TAG_WRITE})
    assert isinstance(parsed, frozenset)


def test_parse_permissions_of_every_name_is_all_permissions():
    assert parse_permissions(sorted(PERMISSIONS)) == ALL_PERMISSIONS
    assert parse_permissions([name.lower() for name in PERMISSIONS]) == ALL_PERMISSIONS


def test_parse_permissions_lists_the_unknown_ones():
    with pytest.raises(InvalidArgument) as info:
        parse_permissions(["DEVICE:READ", "device:fly", "BOGUS:THING"])
    message = info.value.message
    assert "device:fly" in message
    assert "BOGUS:THING" in message
    assert "Unknown permission" in message
    assert "DEVICE:CLAIM" in message  # the known ones are listed to help


@pytest.mark.parametrize(
    "name",
    [
        "DEVICE",
        "DEVICE:",
        ":READ",
        "DEVICE READ",
        " DEVICE:READ",
        "DEVICE:READ ",
        "DEVICE_READ",
        "USER:READ",
        "DEVICE:DELETE",
        "",
    ],
)
def test_parse_permissions_refuses_near_misses(name):
    with pytest.raises(InvalidArgument, match="Unknown permission"):
        parse_permissions([name])


@pytest.mark.parametrize(
    "values",
    [
        None,
        "DEVICE:READ",
        ("DEVICE:READ",),
        {"DEVICE:READ"},
        ["DEVICE:READ", 1],
        [None],
        [["DEVICE:READ"]],
        {"DEVICE:READ": True},
    ],
)
def test_parse_permissions_refuses_what_is_not_a_list_of_strings(values):
    with pytest.raises(InvalidArgument, match="list"):
        parse_permissions(values)


# --- check_role_name -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["Operator", "a", "Z", "field-tech_2", "installer", "OWNER2", "ownerish", "Viewers", "a" * 64, "X" + "9" * 63],
)
def test_check_role_name_accepts_and_returns_the_name_unchanged(name):
    assert check_role_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "1abc",
        "_abc",
        "-abc",
        "a" * 65,
        "has space",
        "tab\tname",
        "trailing\n",
        "dot.name",
        "émile",
        "ünit",
        "a/b",
        "role!",
        None,
        5,
        ["Operator"],
        b"Operator",
    ],
)
def test_check_role_name_refuses_bad_names(name):
    with pytest.raises(InvalidArgument, match="role name"):
        check_role_name(name)


@pytest.mark.parametrize("name", ["OWNER", "owner", "Owner", "ADMIN", "admin", "eDiToR", "VIEWER", "viewer"])
def test_check_role_name_refuses_built_in_names_in_any_case(name):
    with pytest.raises(InvalidArgument, match="built-in"):
        check_role_name(name)


# --- Principal.can -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [VIEWER, EDITOR, ADMIN, OWNER, Role("NOTHING", frozenset())], ids=lambda r: r.name)
def test_tenant_admin_can_everything_whatever_its_role(role):
    admin = principal(Authority.TENANT_ADMIN, role=role)
    assert admin.is_tenant_admin and not admin.is_customer_user
    assert all(admin.can(p) for p in ALL_PERMISSIONS)


@pytest.mark.parametrize("role", CHAIN, ids=lambda r: r.name)
def test_customer_user_can_exactly_what_its_role_allows(role):
    user = principal(role=role)
    assert user.is_customer_user and not user.is_tenant_admin
    assert {p for p in ALL_PERMISSIONS if user.can(p)} == role.permissions


def test_customer_user_without_a_role_is_an_owner():
    user = principal()
    assert user.role is DEFAULT_ROLE
    assert user.can(USER_WRITE) and user.can(DEVICE_READ_RESTRICTED)


def test_customer_user_with_a_custom_role():
    role = Role("Claimer", parse_permissions(["DEVICE:CLAIM", "DEVICE:READ"]))
    user = principal(role=role)
    assert user.can(DEVICE_CLAIM) and user.can(DEVICE_READ)
    assert not user.can(DEVICE_UNCLAIM)
    assert not user.can(TAG_READ)


@pytest.mark.parametrize("role", [OWNER, VIEWER], ids=lambda r: r.name)
def test_sys_admin_can_nothing_on_the_ownership_api(role):
    sys_admin = principal(Authority.SYS_ADMIN, role=role)
    assert not any(sys_admin.can(p) for p in ALL_PERMISSIONS)


# --- the ownership decision (every proof) ----------------------------------------------------------

CALLER = uuid.UUID("00000000-0000-4000-8000-00000000ca11")
SOMEONE_ELSE = uuid.UUID("00000000-0000-4000-8000-0000000000e1")
FLAGS = list(itertools.product([False, True], repeat=2))


def _decide(owner, *, blocked=False, visible=True):
    return decide_ownership(owner=owner, caller=CALLER, blocked=blocked, visible=visible)


@pytest.mark.parametrize("blocked", [False, True])
def test_owner_claiming_again_gets_already_yours_whatever_the_block(blocked):
    assert _decide(CALLER, blocked=blocked) is Ownership.YOURS
    assert require_claimable(Ownership.YOURS, "x") is False  # not an error: the record comes back


def test_owner_is_compared_by_value_not_identity():
    assert _decide(uuid.UUID(str(CALLER))) is Ownership.YOURS


def test_a_device_of_the_callers_customer_it_may_not_see_is_anothers():
    assert _decide(CALLER, visible=False) is Ownership.ANOTHERS


@pytest.mark.parametrize(("blocked", "visible"), FLAGS)
def test_device_of_another_owner_is_a_conflict_whatever_the_flags(blocked, visible):
    assert _decide(SOMEONE_ELSE, blocked=blocked, visible=visible) is Ownership.ANOTHERS
    with pytest.raises(OwnedByAnother) as info:
        require_claimable(Ownership.ANOTHERS, "claimed by another")
    assert info.value.code == "DEVICE_OWNED_BY_ANOTHER"
    assert str(info.value) == "claimed by another"
    assert isinstance(info.value, Conflict)  # 409 on the wire


def test_unowned_blocked_device_is_refused_as_blocked():
    assert _decide(None, blocked=True) is Ownership.BLOCKED
    with pytest.raises(DeviceBlocked) as info:
        require_claimable(Ownership.BLOCKED, "x")
    assert info.value.code == "DEVICE_BLOCKED"
    assert isinstance(info.value, PermissionDenied)


def test_unowned_unblocked_device_is_free_to_claim():
    assert _decide(None) is Ownership.FREE
    assert require_claimable(Ownership.FREE, "x") is True


def test_decide_ownership_takes_keyword_arguments_only():
    with pytest.raises(TypeError):
        decide_ownership(None, CALLER, False, True)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("error", "code", "base"),
    [
        (UnknownDevice, "UNKNOWN_DEVICE", NotFound),
        (BadSignature, "CLAIM_TOKEN_BAD_SIGNATURE", PermissionDenied),
        (ReplayedToken, "CLAIM_TOKEN_REPLAYED", PermissionDenied),
        (ChallengeExpired, "CLAIM_CHALLENGE_EXPIRED", PermissionDenied),
        (ChallengeRequired, "CLAIM_CHALLENGE_REQUIRED", PermissionDenied),
        (DeviceBlocked, "DEVICE_BLOCKED", PermissionDenied),
        (OwnedByAnother, "DEVICE_OWNED_BY_ANOTHER", Conflict),
    ],
)
def test_ownership_errors_carry_distinct_codes(error, code, base):
    instance = error("why")
    assert instance.code == code
    assert isinstance(instance, base)
    assert instance.message == "why"


def test_ownership_error_codes_are_unique():
    codes = [
        e.code
        for e in (
            UnknownDevice,
            BadSignature,
            ReplayedToken,
            ChallengeExpired,
            ChallengeRequired,
            DeviceBlocked,
            OwnedByAnother,
        )
    ]
    assert len(set(codes)) == len(codes)


# --- tags ----------------------------------------------------------------------------------------


def test_parse_tags_splits_comma_joined_items_like_nordic_tools_send():
    assert parse_tags(["location=Oslo,type=tracker"]) == ("location=Oslo", "type=tracker")
    assert parse_tags(["a,b"]) == ("a", "b")


def test_parse_tags_keeps_first_seen_order_and_drops_repeats():
    assert parse_tags(["zeta", "alpha,zeta", "mid", "alpha", "beta,mid"]) == ("zeta", "alpha", "mid", "beta")


def test_parse_tags_strips_white_space_and_skips_empty_pieces():
    assert parse_tags([" a , b ", "a"]) == ("a", "b")
    assert parse_tags(["a,,b,", ",c"]) == ("a", "b", "c")
    assert parse_tags(["", "  ", ","]) == ()


def test_parse_tags_of_nothing():
    assert parse_tags(None) == ()
    assert parse_tags([]) == ()


def test_parse_tags_of_a_csv_cell_string():
    assert parse_tags("location=Oslo,type=tracker, red") == ("location=Oslo", "type=tracker", "red")


def test_parse_tags_is_case_sensitive_and_keeps_unicode():
    assert parse_tags(["Red", "red", "Ørland"]) == ("Red", "red", "Ørland")


def test_tag_length_limit_is_exactly_100_characters():
    assert MAX_TAG_LENGTH == 100
    exact = "t" * 100
    assert check_tag(exact) == exact
    assert parse_tags([exact]) == (exact,)
    assert check_tag("é" * 100) == "é" * 100  # characters, not bytes
    with pytest.raises(InvalidArgument, match="100"):
        check_tag("t" * 101)
    with pytest.raises(InvalidArgument, match="100"):
        parse_tags(["ok", "t" * 101])
    with pytest.raises(InvalidArgument):
        parse_tags(["ok," + "t" * 101])


def test_tag_length_is_measured_after_stripping():
    assert check_tag("  " + "t" * 100 + "\n") == "t" * 100


@pytest.mark.parametrize("value", ["", " ", "\t\n", "\u3000"])
def test_check_tag_refuses_empty_and_white_space(value):
    with pytest.raises(InvalidArgument, match="empty"):
        check_tag(value)


@pytest.mark.parametrize("value", ["a,b", ",", "a\x00b", "\x00"])
def test_check_tag_refuses_commas_and_nul(value):
    with pytest.raises(InvalidArgument):
        check_tag(value)


def test_parse_tags_refuses_nul():
    with pytest.raises(InvalidArgument, match="NUL"):
        parse_tags(["good", "bad\x00tag"])


@pytest.mark.parametrize("value", [None, 1, 1.5, True, b"a", ["a"], {"a": 1}])
def test_check_tag_refuses_non_strings(value):
    with pytest.raises(InvalidArgument, match="string"):
        check_tag(value)


@pytest.mark.parametrize("values", [["a", 1], [None], ["a", ["b"]], [b"a"], [{"a": 1}], 5, {"a": 1}, b"a,b"])
def test_parse_tags_refuses_non_string_items_and_non_lists(values):
    with pytest.raises(InvalidArgument, match="list of strings"):
        parse_tags(values)


def test_at_most_100_tags_per_device():
    assert MAX_TAGS_PER_DEVICE == 100
    hundred = [f"tag{i}" for i in range(100)]
    assert parse_tags(hundred) == tuple(hundred)
    with pytest.raises(InvalidArgument, match="100 tags"):
        parse_tags([*hundred, "one-more"])
    with pytest.raises(InvalidArgument, match="100 tags"):
        parse_tags([",".join([*hundred, "one-more"])])  # the same, joined by commas


def test_the_tag_count_is_taken_after_removing_repeats():
    hundred = [f"tag{i}" for i in range(100)]
    assert len(parse_tags(hundred + hundred + ["tag0"])) == 100


def test_claimed_device_status_follows_the_block():
    assert ClaimedDevice(device(blocked=False)).status is ClaimedStatus.READY
    assert ClaimedDevice(device(blocked=True)).status is ClaimedStatus.BLOCKED
    assert ClaimedStatus.BLOCKED.value == "BLOCKED" and ClaimedStatus.READY.value == "READY"


# --- visible_to ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "sees"),
    [(VIEWER, False), (EDITOR, False), (ADMIN, True), (OWNER, True)],
    ids=lambda v: v.name if isinstance(v, Role) else str(v),
)
def test_restricted_devices_are_hidden_from_editors_and_viewers(role, sees):
    assert visible_to(principal(role=role), device(restricted=True)) is sees


@pytest.mark.parametrize("role", CHAIN, ids=lambda r: r.name)
def test_unrestricted_devices_of_the_customer_are_seen_by_every_built_in_role(role):
    assert visible_to(principal(role=role), device(restricted=False)) is True


@pytest.mark.parametrize("restricted", [False, True])
def test_tenant_admin_sees_every_device_of_its_tenant(restricted):
    admin = principal(Authority.TENANT_ADMIN, role=VIEWER)
    assert visible_to(admin, device(customer=C1, restricted=restricted)) is True
    assert visible_to(admin, device(customer=C2, restricted=restricted)) is True
    assert visible_to(admin, device(customer=None, restricted=restricted)) is True


@pytest.mark.parametrize("restricted", [False, True])
def test_other_tenants_devices_are_never_visible(restricted):
    other = device(tenant=OTHER_TENANT, customer=C1, restricted=restricted)
    assert visible_to(principal(Authority.TENANT_ADMIN), other) is False
    for role in CHAIN:
        # even a user whose customer id is the device's customer id, in another tenant
        assert visible_to(principal(role=role, customer=C1), other) is False


@pytest.mark.parametrize("role", CHAIN, ids=lambda r: r.name)
def test_other_customers_devices_are_never_visible(role):
    assert visible_to(principal(role=role, customer=C1), device(customer=C2)) is False
    assert visible_to(principal(role=role, customer=C1), device(customer=C2, restricted=True)) is False


@pytest.mark.parametrize("role", CHAIN, ids=lambda r: r.name)
def test_unassigned_devices_are_not_visible_to_customer_users(role):
    assert visible_to(principal(role=role), device(customer=None)) is False


def test_customer_user_without_a_customer_sees_nothing():
    assert visible_to(principal(role=OWNER, customer=None), device(customer=None)) is False


def test_sys_admin_sees_no_device():
    sys_admin = principal(Authority.SYS_ADMIN)
    assert visible_to(sys_admin, device(customer=None)) is False
    assert visible_to(sys_admin, device(customer=C1)) is False


def test_custom_roles_need_device_read_and_read_restricted_for_restricted_devices():
    read_only = Role("Reader", frozenset({DEVICE_READ}))
    restricted_only = Role("Peeker", frozenset({DEVICE_READ_RESTRICTED}))
    both = Role("Auditor", frozenset({DEVICE_READ, DEVICE_READ_RESTRICTED}))
    no_read = Role("Claimer", frozenset({DEVICE_CLAIM}))
    assert visible_to(principal(role=read_only), device()) is True
    assert visible_to(principal(role=read_only), device(restricted=True)) is False
    assert visible_to(principal(role=restricted_only), device(restricted=True)) is False
    assert visible_to(principal(role=restricted_only), device()) is False
    assert visible_to(principal(role=both), device(restricted=True)) is True
    assert visible_to(principal(role=no_read), device()) is False
