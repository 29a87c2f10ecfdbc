"""Reading bulk CSV rows: short rows and empty required cells are each row's own clear error, and a
first row that is not CSV is a row (refused by its handler), not the end of the upload."""

from __future__ import annotations

import pytest

from claimd.domain.bulk import BulkEndpoint, BulkRow, identity_row, is_header, lorawan_claim_row
from claimd.domain.errors import InvalidArgument

JOIN, DEV = "70B3D57ED0000000", "70B3D57ED0000001"


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (",key", "device id"),
        ("  ,key,type", "device id"),
        ("id-only", "public key"),
        ("some-id,", "public key"),
        ("some-id, ,type", "public key"),
        ("a,b,c,d,e,f,g,h", "at most 7 cells"),
    ],
)
def test_identity_rows_missing_a_required_cell_say_which(line: str, says: str) -> None:
    with pytest.raises(InvalidArgument, match=says):
        identity_row(line)


def test_identity_row_keeps_the_cells_given() -> None:
    assert identity_row("id-1,key,,fw") == {"id": "id-1", "publicKey": "key", "firmwareId": "fw"}


@pytest.mark.parametrize("line", [f"{JOIN},{DEV},", f"{JOIN},,C05EA29C", f"{JOIN},{DEV}", f",{DEV},C05EA29C,app"])
def test_lorawan_claim_rows_with_an_empty_or_missing_proof_cell_are_refused(line: str) -> None:
    with pytest.raises(InvalidArgument, match="a row is join_eui,dev_eui,authentication_code"):
        lorawan_claim_row(line)


@pytest.mark.parametrize("endpoint", list(BulkEndpoint))
def test_a_first_row_that_is_not_csv_is_not_a_header(endpoint: BulkEndpoint) -> None:
    assert is_header(endpoint, BulkRow(0, '"a"b,c')) is False
