"""ThingsBoard's own Python REST client (``tb-rest-client`` 4.4, ``RestClient``) against a real ``claimd serve``.

Every call goes through the unchanged client, so these tests pin the wire format the client relies on:
paths, query parameters, request bodies (``text/plain`` attribute bodies, a missing claim body), the
JSON the client deserializes into its models, status codes and ThingsBoard's error bodies.

The server is shared by the tests of this module (one per backend), so every test makes its own
uniquely named customers, users and devices.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from tb_rest_client.api.device_controller_api import DeviceControllerApi
from tb_rest_client.models import (
    ActivateUserRequest,
    AttributeData,
    ChangePasswordRequest,
    ClaimRequest,
    Customer,
    CustomerId,
    Device,
    DeviceCredentials,
    JwtPair,
    PageDataCustomer,
    PageDataDevice,
    User,
)
from tb_rest_client.rest import ApiException
from tb_rest_client.rest_client import RestClient

NULL_UUID = "13814000-1dd2-11b2-8080-808080808080"
USER_PASSWORD = "customer-password-1"


# helpers ---------------------------------------------------------------------------------------
def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:10]}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def api_error(call: Callable[[], Any]) -> ApiException:
    """The ApiException ``call`` raises (fails the test if it returns)."""
    with pytest.raises(ApiException) as info:
        call()
    return info.value


def error_json(exc: ApiException) -> dict:
    """ThingsBoard's error body ``{"status", "message", "errorCode", "timestamp"}``."""
    body = json.loads(exc.body)
    assert set(body) >= {"status", "message", "errorCode", "timestamp"}, body
    assert body["status"] == exc.status
    return body


@dataclass
class CustomerAccount:
    customer: Customer
    user: User
    client: RestClient  # logged in as the activated customer user
    email: str

    @property
    def customer_id(self) -> str:
        return self.customer.id.id


@pytest.fixture(scope="module")
def admin(live_server) -> RestClient:
    """The tenant admin, logged in through the client."""
    client = RestClient(base_url=live_server.base_url)
    client.login(live_server.admin_email, live_server.admin_password)
    return client


@pytest.fixture(scope="module")
def new_customer(live_server, admin: RestClient) -> Callable[[], CustomerAccount]:
    """``new_customer()``: a customer with one customer user, made and activated through the client
    exactly as a ThingsBoard user does it (save_customer, save_user, get_activation_link, activate_user)."""

    def make() -> CustomerAccount:
        title = unique("Customer")
        customer = admin.save_customer(Customer(title=title))
        assert isinstance(customer, Customer)
        assert customer.title == title
        assert customer.id.entity_type == "CUSTOMER"
        uuid.UUID(customer.id.id)

        email = f"user-{uuid.uuid4().hex[:10]}@customer.test"
        user = admin.save_user(
            User(email=email, authority="CUSTOMER_USER", customer_id=CustomerId(customer.id.id, "CUSTOMER")),
            send_activation_mail=False,
        )
        assert isinstance(user, User)
        assert user.email == email
        assert user.authority == "CUSTOMER_USER"
        assert user.customer_id.id == customer.id.id

        link = admin.get_activation_link(user.id)
        assert isinstance(link, str)
        assert link.startswith(live_server.base_url), link
        (activate_token,) = parse_qs(urlsplit(link).query)["activateToken"]
        pair = admin.activate_user(
            ActivateUserRequest(activate_token=activate_token, password=USER_PASSWORD), send_activation_mail=False
        )
        assert isinstance(pair, JwtPair)
        assert pair.token and pair.refresh_token

        client = RestClient(base_url=live_server.base_url)
        client.login(email, USER_PASSWORD)
        return CustomerAccount(customer, user, client, email)

    return make


@pytest.fixture(scope="module")
def customer(new_customer) -> CustomerAccount:
    """One customer shared by the tests that need just any customer."""
    return new_customer()


@pytest.fixture(scope="module")
def new_device(admin: RestClient) -> Callable[..., tuple[Device, str]]:
    """``new_device(name=None)`` → (device, access token): an unassigned device created by the admin
    with an explicit ``accessToken``."""

    def make(name: str | None = None) -> tuple[Device, str]:
        name = name or unique("Test Claim device")
        token = f"token-{uuid.uuid4().hex}"
        device = admin.save_device(Device(name=name, type="default"), access_token=token)
        assert isinstance(device, Device)
        assert device.name == name
        return device, token

    return make


def assert_claimed_by(result: Any, device: Device, account: CustomerAccount) -> None:
    """``result`` is ThingsBoard's ClaimResult for a successful claim of ``device`` by ``account``."""
    assert isinstance(result, dict), result
    assert result["response"] == "SUCCESS"
    assert result["device"]["id"] == {"entityType": "DEVICE", "id": device.id.id}
    assert result["device"]["name"] == device.name
    assert result["device"]["customerId"] == {"entityType": "CUSTOMER", "id": account.customer_id}


def assert_claim_fails(account: CustomerAccount, name: str, body: Any, expected: bytes) -> None:
    exc = api_error(lambda: account.client.claim_device_by_name(name, body))
    assert (exc.status, exc.body) == (400, expected)


def owner_of(admin: RestClient, device: Device) -> str:
    return admin.get_device_by_id(device.id).customer_id.id


# 1. the device-side key, end to end ------------------------------------------------------------
def test_device_side_claim_flow(admin: RestClient, new_customer, live_server) -> None:
    account = new_customer()
    name = unique("Test Claim device")
    token = f"token-{uuid.uuid4().hex}"
    device = admin.save_device(Device(name=name, type="default"), access_token=token)
    assert device.type == "default"
    assert device.customer_id.id == NULL_UUID
    assert device.tenant_id.entity_type == "TENANT"
    assert device.created_time > 0
    credentials = admin.get_device_credentials_by_device_id(device.id)
    assert isinstance(credentials, DeviceCredentials)
    assert credentials.credentials_id == token
    assert credentials.credentials_type == "ACCESS_TOKEN"
    assert credentials.device_id.id == device.id.id

    # The device opens a window through the device API (no JWT involved); the answer is an empty 200.
    assert admin.claim_device(token, {"secretKey": "k", "durationMs": 60000}) is None

    result = account.client.claim_device_by_name(name, ClaimRequest(secret_key="k"))
    assert_claimed_by(result, device, account)
    assert owner_of(admin, device) == account.customer_id

    assert_claim_fails(account, name, ClaimRequest(secret_key="k"), b'"CLAIMED"')

    # The owner's user gives the device back; it is unassigned again.
    assert account.client.re_claim_device(name) is None
    assert owner_of(admin, device) == NULL_UUID

    # A new window, and the device can be claimed again.
    assert admin.claim_device(token, {"secretKey": "k2", "durationMs": 60000}) is None
    assert_claimed_by(account.client.claim_device_by_name(name, ClaimRequest(secret_key="k2")), device, account)
    assert owner_of(admin, device) == account.customer_id


def test_device_without_access_token_gets_one(admin: RestClient, customer: CustomerAccount) -> None:
    name = unique("Test Claim device")
    device = admin.save_device(Device(name=name, type="default"))
    token = admin.get_device_credentials_by_device_id(device.id).credentials_id
    assert isinstance(token, str) and token

    assert admin.claim_device(token, {"secretKey": "k", "durationMs": 60000}) is None
    assert_claimed_by(customer.client.claim_device_by_name(name, ClaimRequest(secret_key="k")), device, customer)


def test_wrong_secret_fails_and_evicts_the_window(admin: RestClient, customer: CustomerAccount, new_device) -> None:
    device, token = new_device()
    admin.claim_device(token, {"secretKey": "right", "durationMs": 60000})
    assert_claim_fails(customer, device.name, ClaimRequest(secret_key="wrong"), b'"FAILURE"')
    # ThingsBoard evicts the window on a failed attempt: the right key no longer works either.
    assert_claim_fails(customer, device.name, ClaimRequest(secret_key="right"), b'"FAILURE"')
    assert owner_of(admin, device) == NULL_UUID


def test_live_window_is_not_replaced(admin: RestClient, customer: CustomerAccount, new_device) -> None:
    """putIfAbsent: a second device message while a live window exists is ignored."""
    device, token = new_device()
    admin.claim_device(token, {"secretKey": "first", "durationMs": 60000})
    admin.claim_device(token, {"secretKey": "second", "durationMs": 60000})
    assert_claimed_by(
        customer.client.claim_device_by_name(device.name, ClaimRequest(secret_key="first")), device, customer
    )


# 2. the server-side key ------------------------------------------------------------------------
@pytest.mark.parametrize("save", ["save_device_attributes", "save_entity_attributes_v1", "save_entity_attributes_v2"])
def test_server_side_claim_flow(admin: RestClient, customer: CustomerAccount, new_device, save: str) -> None:
    device, _token = new_device()
    expiration = now_ms() + 60_000
    getattr(admin, save)(
        device.id,
        "SERVER_SCOPE",
        {"claimingData": {"secretKey": "abc", "expirationTime": expiration}, "claimingAllowed": True},
    )

    attributes = admin.get_attributes_by_scope(device.id, "SERVER_SCOPE", "claimingData")
    assert [type(a) for a in attributes] == [AttributeData]
    (data,) = attributes
    assert data.key == "claimingData"
    assert data.last_update_ts > 0
    assert isinstance(data.value, dict), data.value
    assert data.value["expirationTime"] == expiration
    assert "secretKey" in data.value
    assert data.value["secretKey"] != "abc"
    assert "abc" not in json.dumps(data.value)
    both = admin.get_attributes_by_scope(device.id, "SERVER_SCOPE", "claimingData,claimingAllowed")
    assert {a.key: a.value for a in both}["claimingAllowed"] is True

    assert_claimed_by(
        customer.client.claim_device_by_name(device.name, ClaimRequest(secret_key="abc")), device, customer
    )
    # On SUCCESS both claim attributes are deleted.
    assert admin.get_attributes_by_scope(device.id, "SERVER_SCOPE", "claimingData,claimingAllowed") == []
    assert_claim_fails(customer, device.name, ClaimRequest(secret_key="abc"), b'"CLAIMED"')


def test_server_side_wrong_or_expired_key_keeps_the_attribute(
    admin: RestClient, customer: CustomerAccount, new_device
) -> None:
    device, _token = new_device()
    admin.save_device_attributes(
        device.id, "SERVER_SCOPE", {"claimingData": {"secretKey": "abc", "expirationTime": now_ms() + 60_000}}
    )
    assert_claim_fails(customer, device.name, ClaimRequest(secret_key="ABC"), b'"FAILURE"')
    # A failed attempt leaves claimingData in place (only cached windows are evicted): the right key works.
    assert [a.key for a in admin.get_attributes_by_scope(device.id, "SERVER_SCOPE", "claimingData")] == ["claimingData"]

    expired, _ = new_device()
    admin.save_entity_attributes_v2(
        expired.id, "SERVER_SCOPE", {"claimingData": {"secretKey": "abc", "expirationTime": now_ms() - 1_000}}
    )
    assert_claim_fails(customer, expired.name, ClaimRequest(secret_key="abc"), b'"FAILURE"')
    kept = admin.get_attributes_by_scope(expired.id, "SERVER_SCOPE", "claimingData")
    assert [a.key for a in kept] == ["claimingData"]

    assert_claimed_by(
        customer.client.claim_device_by_name(device.name, ClaimRequest(secret_key="abc")), device, customer
    )


# 3. ThingsBoard's own claiming tests (reference §6, rows 1 and 2), over the HTTP device API -----
def expire_window() -> None:
    """The FAILURE payloads open a 1 ms window; make sure it is over (expiry is strict: now > expirationTime)."""
    time.sleep(0.02)


def test_tb_skeleton_with_secret(admin: RestClient, customer: CustomerAccount, new_device) -> None:
    """Row 1: FAILURE payload, claim → 400 "FAILURE", GOOD payload, claim → SUCCESS, claim → "CLAIMED"."""
    device, token = new_device()
    body = ClaimRequest(secret_key="value")

    assert admin.claim_device(token, {"secretKey": "value", "durationMs": 1}) is None
    expire_window()
    assert_claim_fails(customer, device.name, body, b'"FAILURE"')

    assert admin.claim_device(token, {"secretKey": "value", "durationMs": 60000}) is None
    assert_claimed_by(customer.client.claim_device_by_name(device.name, body), device, customer)

    assert_claim_fails(customer, device.name, body, b'"CLAIMED"')


NO_SECRET_VARIANTS = [
    # (device GOOD payload, customer claim body)
    pytest.param({}, ClaimRequest(), id="empty-objects"),  # ClaimRequest() is sent as {}
    pytest.param({}, {"secretKey": None}, id="null-secret"),  # TB's own test body
    pytest.param(None, None, id="no-bodies"),  # no body at all on either side
]


@pytest.mark.parametrize(("good_payload", "claim_body"), NO_SECRET_VARIANTS)
def test_tb_skeleton_without_secret_and_duration(
    admin: RestClient, customer: CustomerAccount, new_device, good_payload: Any, claim_body: Any
) -> None:
    """Row 2: ``{"durationMs":1}`` then ``{}`` (or nothing); the customer claims with no secret.
    A claim request with no body is read as secretKey "" (ThingsBoard answers 500: issue #3031)."""
    device, token = new_device()

    assert admin.claim_device(token, {"durationMs": 1}) is None
    expire_window()
    assert_claim_fails(customer, device.name, claim_body, b'"FAILURE"')

    assert admin.claim_device(token, good_payload) is None
    assert_claimed_by(customer.client.claim_device_by_name(device.name, claim_body), device, customer)

    assert_claim_fails(customer, device.name, claim_body, b'"CLAIMED"')


def test_claim_without_any_claim_data(admin: RestClient, customer: CustomerAccount, new_device) -> None:
    """No window, no claimingData: unassigned → "FAILURE"; assigned → "CLAIMED"."""
    device, _token = new_device()
    assert_claim_fails(customer, device.name, ClaimRequest(secret_key="x"), b'"FAILURE"')
    admin.assign_device_to_customer(customer.customer.id, device.id)
    assert_claim_fails(customer, device.name, ClaimRequest(secret_key="x"), b'"CLAIMED"')


def test_device_message_for_an_assigned_device_is_ignored(admin: RestClient, new_customer, new_device) -> None:
    owner, other = new_customer(), new_customer()
    device, token = new_device()
    admin.assign_device_to_customer(owner.customer.id, device.id)
    assert admin.claim_device(token, {"secretKey": "k", "durationMs": 60000}) is None  # accepted, not registered
    assert_claim_fails(other, device.name, ClaimRequest(secret_key="k"), b'"CLAIMED"')
    assert owner_of(admin, device) == owner.customer_id


# 4. errors as the client sees them ------------------------------------------------------------
def test_tenant_admin_cannot_claim(admin: RestClient, new_device) -> None:
    device, token = new_device()
    admin.claim_device(token, {"secretKey": "k", "durationMs": 60000})
    exc = api_error(lambda: admin.claim_device_by_name(device.name, ClaimRequest(secret_key="k")))
    assert exc.status == 403
    assert error_json(exc)["errorCode"] == 20
    assert owner_of(admin, device) == NULL_UUID


def test_unknown_device_name_is_404(customer: CustomerAccount) -> None:
    exc = api_error(
        lambda: customer.client.claim_device_by_name(unique("No such device"), ClaimRequest(secret_key="k"))
    )
    assert exc.status == 404
    assert error_json(exc)["errorCode"] == 32
    exc = api_error(lambda: customer.client.re_claim_device(unique("No such device")))
    assert exc.status == 404


def test_claim_without_a_valid_jwt_is_401(live_server, new_device) -> None:
    device, _token = new_device()
    anonymous = RestClient(base_url=live_server.base_url)
    anonymous.token_login("not-a-jwt")
    exc = api_error(lambda: anonymous.claim_device_by_name(device.name, ClaimRequest(secret_key="k")))
    assert exc.status == 401
    assert error_json(exc)["errorCode"] == 10


def test_unknown_device_token_is_401(admin: RestClient) -> None:
    exc = api_error(lambda: admin.claim_device("nope", {"secretKey": "k", "durationMs": 60000}))
    assert exc.status == 401
    assert exc.body == b""


def test_json_string_body_from_device_is_rejected(admin: RestClient, customer: CustomerAccount, new_device) -> None:
    """A JSON *string* passed to claim_device is double-encoded by the client into a JSON string literal:
    not an object, so claimd answers 400 with a message (ThingsBoard: 500) and opens no window."""
    device, token = new_device()
    exc = api_error(lambda: admin.claim_device(token, '{"secretKey": "k", "durationMs": 60000}'))
    assert exc.status == 400
    assert error_json(exc)["message"]
    assert_claim_fails(customer, device.name, ClaimRequest(secret_key="k"), b'"FAILURE"')


def test_reclaim_permissions(admin: RestClient, new_customer, new_device) -> None:
    owner, stranger = new_customer(), new_customer()
    device, token = new_device()
    admin.claim_device(token, {"secretKey": "k", "durationMs": 60000})
    assert_claimed_by(owner.client.claim_device_by_name(device.name, ClaimRequest(secret_key="k")), device, owner)

    # A user of another customer may not release it (ThingsBoard bug #6742 fixed) ...
    exc = api_error(lambda: stranger.client.re_claim_device(device.name))
    assert exc.status == 403
    assert error_json(exc)["errorCode"] == 20
    assert owner_of(admin, device) == owner.customer_id

    # ... and an unassigned device has nothing to release: said so, not "no permission".
    free, _ = new_device()
    exc = api_error(lambda: stranger.client.re_claim_device(free.name))
    assert exc.status == 400 and "not claimed" in error_json(exc)["message"]

    # The tenant admin may reclaim any device of the tenant, assigned or not.
    assert admin.re_claim_device(device.name) is None
    assert owner_of(admin, device) == NULL_UUID
    assert admin.re_claim_device(free.name) is None
    assert owner_of(admin, free) == NULL_UUID

    # Released by the admin, the device can be claimed again by anyone with a new window.
    admin.claim_device(token, {"secretKey": "k3", "durationMs": 60000})
    assert_claimed_by(
        stranger.client.claim_device_by_name(device.name, ClaimRequest(secret_key="k3")), device, stranger
    )


# 5. the other client helpers ThingsBoard users call ------------------------------------------
def test_device_lookup_and_paging(admin: RestClient, new_device) -> None:
    prefix = f"paging-{uuid.uuid4().hex[:8]}"
    devices = [new_device(f"{prefix} {i}")[0] for i in range(3)]

    found = admin.get_tenant_device(devices[1].name)
    assert isinstance(found, Device)
    assert (found.id.id, found.name) == (devices[1].id.id, devices[1].name)
    assert api_error(lambda: admin.get_tenant_device(unique("No such device"))).status == 404

    page = admin.get_tenant_devices(page_size=10, page=0)
    assert isinstance(page, PageDataDevice)
    assert all(isinstance(d, Device) for d in page.data)
    assert page.total_elements >= 3
    assert isinstance(page.has_next, bool)
    assert len(page.data) == min(10, page.total_elements)

    first = admin.get_tenant_devices(page_size=2, page=0, text_search=prefix)
    assert (first.total_elements, first.total_pages, first.has_next, len(first.data)) == (3, 2, True, 2)
    second = admin.get_tenant_devices(page_size=2, page=1, text_search=prefix)
    assert (second.total_elements, second.has_next, len(second.data)) == (3, False, 1)
    assert {d.id.id for d in first.data + second.data} == {d.id.id for d in devices}

    by_id = admin.get_device_by_id(devices[0].id)
    assert (by_id.id.id, by_id.name, by_id.type) == (devices[0].id.id, devices[0].name, "default")


def test_customers(admin: RestClient, new_customer) -> None:
    account = new_customer()
    title = account.customer.title

    page = admin.get_customers(10, 0)
    assert isinstance(page, PageDataCustomer)
    assert page.total_elements >= 1
    assert all(isinstance(c, Customer) for c in page.data)
    searched = admin.get_customers(10, 0, text_search=title)
    assert [c.id.id for c in searched.data] == [account.customer_id]
    assert (searched.total_elements, searched.has_next) == (1, False)

    got = admin.get_customer_by_id(account.customer.id)
    assert isinstance(got, Customer)
    assert (got.id.id, got.title) == (account.customer_id, title)


def test_save_user_activation_mail(admin: RestClient, new_customer) -> None:
    """claimd sends no mail: ``sendActivationMail=true`` is a clear 400 (not a user silently left without
    a link), and nothing is created; the client's default (the parameter left out) still creates the user."""
    customer = new_customer().customer
    email = f"user-{uuid.uuid4().hex[:10]}@customer.test"

    def user() -> User:
        return User(email=email, authority="CUSTOMER_USER", customer_id=CustomerId(customer.id.id, "CUSTOMER"))

    body = error_json(api_error(lambda: admin.save_user(user(), send_activation_mail=True)))
    assert body["status"] == 400 and body["errorCode"] == 31
    assert "sendActivationMail=false" in body["message"] and "activationLink" in body["message"]
    assert email not in [u.email for u in admin.get_customer_users(customer.id, 100, 0).data]

    created = admin.save_user(user())  # tb-rest-client's default: no sendActivationMail value
    assert isinstance(created, User) and created.email == email
    assert admin.get_activation_link(created.id).startswith("http")

    # ThingsBoard's "send the activation mail again" is refused the same way, not a bare 404
    body = error_json(api_error(lambda: admin.send_activation_email(email)))
    assert body["status"] == 400 and "activationLink" in body["message"]


def test_assign_and_unassign(admin: RestClient, customer: CustomerAccount, new_device) -> None:
    device, _token = new_device()
    assigned = admin.assign_device_to_customer(customer.customer.id, device.id)
    assert isinstance(assigned, Device)
    assert assigned.customer_id.id == customer.customer_id

    unassigned = admin.unassign_device_from_customer(device.id)
    assert isinstance(unassigned, Device)
    assert unassigned.customer_id.id == NULL_UUID


def test_current_user(admin: RestClient, live_server, customer: CustomerAccount) -> None:
    me = admin.get_user()
    assert isinstance(me, User)
    assert (me.email, me.authority) == (live_server.admin_email, "TENANT_ADMIN")
    assert me.tenant_id.entity_type == "TENANT"

    them = customer.client.get_user()
    assert (them.email, them.authority, them.customer_id.id) == (customer.email, "CUSTOMER_USER", customer.customer_id)
    assert them.tenant_id.id == me.tenant_id.id


def test_delete_device_and_customer(admin: RestClient, new_customer, new_device) -> None:
    device, _token = new_device()
    assert admin.delete_device(device.id) is None
    assert api_error(lambda: admin.get_device_by_id(device.id)).status == 404

    account = new_customer()
    owned, _ = new_device()
    admin.assign_device_to_customer(account.customer.id, owned.id)
    assert admin.delete_customer(account.customer.id) is None
    exc = api_error(lambda: admin.get_customer_by_id(account.customer.id))
    assert exc.status == 404
    assert error_json(exc)["errorCode"] == 32
    assert owner_of(admin, owned) == NULL_UUID  # its devices become unassigned


def test_refresh_keeps_the_client_working(live_server, customer: CustomerAccount) -> None:
    client = RestClient(base_url=live_server.base_url)
    client.login(live_server.admin_email, live_server.admin_password)
    before = dict(client.token_info)
    client.refresh()
    assert client.token_info["token"] and client.token_info["refreshToken"]
    assert client.token_info["exp"] >= before["exp"] > time.time()
    assert client.get_user().email == live_server.admin_email

    customer.client.refresh()
    assert customer.client.get_user().email == customer.email


def test_change_password_ends_the_old_session(live_server, new_customer) -> None:
    account = new_customer()
    wrong = api_error(
        lambda: account.client.change_password(
            ChangePasswordRequest(current_password="wrong-password", new_password="customer-password-2")
        )
    )
    assert wrong.status == 400 and "Current password" in error_json(wrong)["message"]
    pair = account.client.change_password(
        ChangePasswordRequest(current_password=USER_PASSWORD, new_password="customer-password-2")
    )
    assert isinstance(pair, JwtPair) and pair.token and pair.refresh_token
    ended = api_error(account.client.get_user)  # the client still holds the token from before the change
    assert ended.status == 401
    client = RestClient(base_url=live_server.base_url)
    client.login(account.email, "customer-password-2")
    assert client.get_user().email == account.email


def test_delete_entity_attributes(admin: RestClient, customer: CustomerAccount, new_device) -> None:
    device, _token = new_device()
    admin.save_device_attributes(device.id, "SERVER_SCOPE", {"claimingAllowed": True, "note": "kept"})
    assert {a.key for a in admin.get_attributes_by_scope(device.id, "SERVER_SCOPE")} >= {"claimingAllowed", "note"}

    assert admin.delete_entity_attributes(device.id, "SERVER_SCOPE", keys="claimingAllowed") is None
    remaining = {a.key: a.value for a in admin.get_attributes_by_scope(device.id, "SERVER_SCOPE")}
    assert "claimingAllowed" not in remaining
    assert remaining["note"] == "kept"

    # The legacy device path, and the all-scopes read.
    assert admin.delete_device_attributes(device.id, "SERVER_SCOPE", keys="note") is None
    assert [a.key for a in admin.get_attributes(device.id, keys="note,claimingAllowed")] == []


# 6. the low-level generated API the helpers wrap ---------------------------------------------
def test_low_level_device_controller(admin: RestClient, customer: CustomerAccount, new_device) -> None:
    controller = customer.client.device_controller
    assert isinstance(controller, DeviceControllerApi)
    assert hasattr(controller, "claim_device")  # 4.4: claim_device(device_name, body=None, sub_customer_id=None)

    device, token = new_device()
    admin.claim_device(token, {"secretKey": "low", "durationMs": 60000})
    result = controller.claim_device(device_name=device.name, body=ClaimRequest(secret_key="low"))
    assert_claimed_by(result, device, customer)

    exc = api_error(lambda: controller.claim_device(device_name=device.name, body=ClaimRequest(secret_key="low")))
    assert (exc.status, exc.body) == (400, b'"CLAIMED"')

    data, status, _headers = controller.re_claim_device_with_http_info(device_name=device.name)
    assert (data, status) == (None, 200)
    assert owner_of(admin, device) == NULL_UUID

    admin.claim_device(token, {"secretKey": "again", "durationMs": 60000})
    data, status, _headers = controller.claim_device_with_http_info(
        device_name=device.name, body=ClaimRequest(secret_key="again")
    )
    assert status == 200
    assert_claimed_by(data, device, customer)


def test_device_name_needing_url_encoding(admin: RestClient, customer: CustomerAccount, new_device) -> None:
    """The client URL-encodes the name in the path (``Dev%20A``); spaces, '#', '?', '%' and non-ASCII survive."""
    device, token = new_device(f"Dev A #1 ?x=ü 100% {uuid.uuid4().hex[:6]}")
    assert admin.get_tenant_device(device.name).id.id == device.id.id
    admin.claim_device(token, {"secretKey": "k", "durationMs": 60000})
    assert_claimed_by(customer.client.claim_device_by_name(device.name, ClaimRequest(secret_key="k")), device, customer)
    assert customer.client.re_claim_device(device.name) is None
    assert owner_of(admin, device) == NULL_UUID


def test_system_administrator_makes_a_tenant_and_its_admin(live_server) -> None:
    """The system administrator's calls of the client: save_tenant, get_tenant_by_id, get_tenants,
    save_user (TENANT_ADMIN with a tenantId), get_tenant_admins, delete_tenant."""
    from servers import SYSADMIN_EMAIL, SYSADMIN_PASSWORD
    from tb_rest_client.models import PageDataTenant, PageDataUser, Tenant, TenantId

    sysadmin = RestClient(base_url=live_server.base_url)
    sysadmin.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
    title = unique("Tenant")
    tenant = sysadmin.save_tenant(Tenant(title=title, email="ops@example.com"))
    assert isinstance(tenant, Tenant) and tenant.title == title and tenant.id.entity_type == "TENANT"
    assert sysadmin.get_tenant_by_id(tenant.id).title == title
    page = sysadmin.get_tenants(page_size=100, page=0, text_search=title)
    assert isinstance(page, PageDataTenant) and [t.id.id for t in page.data] == [tenant.id.id]

    email = f"admin-{uuid.uuid4().hex[:10]}@tenant.test"
    user = sysadmin.save_user(
        User(email=email, authority="TENANT_ADMIN", tenant_id=TenantId(tenant.id.id, "TENANT")),
        send_activation_mail=False,
    )
    assert user.authority == "TENANT_ADMIN" and user.tenant_id.id == tenant.id.id
    admins = sysadmin.get_tenant_admins(tenant.id, page_size=10, page=0)
    assert isinstance(admins, PageDataUser) and [u.email for u in admins.data] == [email]
    (activate_token,) = parse_qs(urlsplit(sysadmin.get_activation_link(user.id)).query)["activateToken"]
    sysadmin.activate_user(
        ActivateUserRequest(activate_token=activate_token, password=USER_PASSWORD), send_activation_mail=False
    )
    tenant_admin = RestClient(base_url=live_server.base_url)
    tenant_admin.login(email, USER_PASSWORD)
    assert tenant_admin.get_user().tenant_id.id == tenant.id.id
    assert error_json(api_error(lambda: tenant_admin.get_tenants(page_size=10, page=0)))["status"] == 403

    sysadmin.delete_tenant(tenant.id)
    assert error_json(api_error(lambda: sysadmin.get_tenant_by_id(tenant.id)))["status"] == 404
