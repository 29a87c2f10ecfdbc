"""The text rule (claimd.domain.inputs) where text enters the domain from the doors that are not
HTTP: gateway child device names (MQTT payload keys) and the service-level text checks every door
shares (device claim messages: tests/unit/test_inputs.py). On every backend: PostgreSQL refuses NUL
in text, and no driver can encode a lone surrogate, so each of these was an internal error.
"""

from __future__ import annotations

import pytest

from claimd.domain.errors import InvalidArgument
from claimd.services.devices import DeviceDraft

BAD_NAMES = ["a\x00b", "a\ud800", "x" * 256, " ", ""]


@pytest.mark.parametrize("name", BAD_NAMES, ids=["nul", "surrogate", "long", "blank", "empty"])
async def test_gateway_child_names_follow_the_device_name_rule(world, container, name):
    gateway = await world.device(gateway=True)
    with pytest.raises(InvalidArgument):
        await container.gateways.connect_child(gateway, name)
    with pytest.raises(InvalidArgument):
        await container.devices.create(world.admin, DeviceDraft(name=name, type="default"), "token-x")


async def test_other_device_texts_follow_the_text_rule(world, container):
    with pytest.raises(InvalidArgument, match="surrogate"):
        await container.devices.create(world.admin, DeviceDraft(name="ok", type="a\udfff"), "token-y")
    with pytest.raises(InvalidArgument, match="NUL"):
        await container.devices.create(world.admin, DeviceDraft(name="ok", type="t", label="a\x00"), "token-z")
    assert (await container.devices.create(world.admin, DeviceDraft(name="ok 😀", type="t"), "token-w")).name == "ok 😀"


@pytest.mark.parametrize("name", ["a\x00b", "a\ud800"], ids=["nul", "surrogate"])
async def test_looking_up_a_name_that_cannot_be_stored_finds_nothing(world, container, name):
    """Whatever door a look-up comes from (the CLI passes undecodable arguments as lone surrogates),
    a text no row can hold is simply not found."""
    from claimd.domain.errors import NotFound

    with pytest.raises(NotFound):
        await container.devices.get_by_name(world.admin, name)
