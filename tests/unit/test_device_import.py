"""The device import's row format: CSV and NDJSON readers, generate markers, key policy, the upload's chunks."""

from __future__ import annotations

import collections
import csv
import io
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimd.domain.claim_keys import DEFAULT_KEY_ALPHABET, DEFAULT_KEY_LENGTH, KeyPolicy, random_keys
from claimd.domain.device_import import (
    COLUMNS,
    GENERATE,
    MAX_ACCESS_TOKEN_LENGTH,
    MAX_CLAIM_KEY_LENGTH,
    MAX_LINE_LENGTH,
    MAX_PUBLIC_KEY_LENGTH,
    ImportFormat,
    ImportRow,
    LineChunker,
    RowError,
    TooManyRows,
    parse_rfc3339,
    read_chunk,
    read_csv_header,
    rows_from_csv,
    rows_from_ndjson,
)
from claimd.domain.errors import InvalidArgument
from claimd.domain.inputs import MAX_NAME_LENGTH

PEM = "-----BEGIN PUBLIC KEY-----\\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\\n-----END PUBLIC KEY-----"
HEX_POINT = "04" + "ab" * 64


def csv_text(rows: list[dict[str, str]], header: list[str] | None = None) -> list[str]:
    out = io.StringIO()
    names = header or list(rows[0])
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().splitlines(keepends=True)


def one_csv(**cells: str) -> ImportRow | RowError:
    [result] = rows_from_csv(csv_text([cells]))
    return result


def one_json(**cells: object) -> ImportRow | RowError:
    [result] = rows_from_ndjson([json.dumps(cells) + "\n"])
    return result


def error_of(result: ImportRow | RowError) -> str:
    assert isinstance(result, RowError), result
    return result.message


# ---------------------------------------------------------------------------------------------------
# Every column


def test_a_csv_row_with_every_column() -> None:
    row = one_csv(
        name=" sensor-1 ",
        type="thermometer",
        label="Hall",
        access_token="tok123",
        gateway="true",
        claim_key="s3cret-key",
        claim_key_expires_at="2026-01-31T12:00:00Z",
        join_eui="70-b3-d5-7e-d0-00-00-01",
        dev_eui="0004a30b001c0530",
        claim_code="ABCDEF0123",
        valid_from="2026-01-01T00:00:00Z",
        valid_to="2026-12-31T23:59:59.999+00:00",
        public_key=HEX_POINT,
        tags="site=A,floor=2",
        customer="ACME",
    )
    assert row == ImportRow(
        row=1,
        name="sensor-1",
        device_type="thermometer",
        label="Hall",
        access_token="tok123",
        gateway=True,
        claim_key="s3cret-key",
        claim_key_expires_at=1_769_860_800_000,
        join_eui="70B3D57ED0000001",
        dev_eui="0004A30B001C0530",
        claim_code="ABCDEF0123",
        valid_from=1_767_225_600_000,
        valid_to=1_798_761_599_999,
        public_key=HEX_POINT,
        tags=("site=A", "floor=2"),
        customer="ACME",
    )
    assert row.lorawan


def test_only_name_is_needed_and_empty_cells_are_not_given() -> None:
    lines = ["name,type,label,access_token,gateway,claim_key,tags,customer\n", "d1,,,,,,,\n"]
    assert list(rows_from_csv(lines)) == [ImportRow(row=1, name="d1")]
    row = ImportRow(row=1, name="d1")
    assert row.access_token is None and row.claim_key is None and row.tags == () and not row.gateway
    assert not row.lorawan


def test_the_header_may_list_columns_in_any_order() -> None:
    lines = ["customer,name\n", "c-1,d1\n"]
    assert list(rows_from_csv(lines)) == [ImportRow(row=1, name="d1", customer="c-1")]


def test_a_pem_public_key_is_kept_as_given() -> None:
    row = one_json(name="d", public_key=PEM)
    assert isinstance(row, ImportRow) and row.public_key == PEM


def test_several_proofs_on_one_row() -> None:
    row = one_json(
        name="d", claim_key="generate", public_key=HEX_POINT, join_eui="0" * 16, dev_eui="1" * 16, claim_code="C0DE"
    )
    assert isinstance(row, ImportRow)
    assert row.claim_key is GENERATE and row.public_key == HEX_POINT and row.claim_code == "C0DE"


# ---------------------------------------------------------------------------------------------------
# Generate markers


@pytest.mark.parametrize("word", ["generate", "GENERATE", "Generate"])
def test_generate_marks_a_claim_key_and_a_claim_code(word: str) -> None:
    row = one_csv(name="d", claim_key=word, join_eui="1" * 16, dev_eui="2" * 16, claim_code=word)
    assert isinstance(row, ImportRow) and row.claim_key is GENERATE and row.claim_code is GENERATE


def test_an_empty_access_token_means_generate() -> None:
    row = one_csv(name="d", access_token="")
    assert isinstance(row, ImportRow) and row.access_token is None


# ---------------------------------------------------------------------------------------------------
# Errors, with row numbers


def test_one_bad_row_does_not_stop_the_file_and_rows_count_from_the_first_data_row() -> None:
    lines = [
        "name,gateway,dev_eui,join_eui,claim_code\n",
        "ok-1,false,,,\n",
        "\n",  # blank: skipped, not counted
        "bad-gw,maybe,,,\n",
        ",false,,,\n",
        "lw,false,0000000000000001,,\n",
        "ok-2,TRUE,,,\n",
    ]
    results = list(rows_from_csv(lines))
    assert [type(result).__name__ for result in results] == [
        "ImportRow",
        "RowError",
        "RowError",
        "RowError",
        "ImportRow",
    ]
    assert [result.row for result in results] == [1, 2, 3, 4, 5]
    assert results[1] == RowError(2, "gateway must be true or false")
    assert results[2] == RowError(3, "name is required")
    assert "join_eui, claim_code missing" in error_of(results[3])
    assert isinstance(results[4], ImportRow) and results[4].gateway


@pytest.mark.parametrize(
    ("cells", "needle"),
    [
        ({"name": "x" * (MAX_NAME_LENGTH + 1)}, "name is longer than 255"),
        ({"name": "d", "type": "t" * 256}, "type is longer"),
        ({"name": "d", "label": "l" * 256}, "label is longer"),
        ({"name": "d", "access_token": "t" * (MAX_ACCESS_TOKEN_LENGTH + 1)}, "access_token is longer"),
        ({"name": "d", "access_token": "a b"}, "access_token must not contain spaces"),
        ({"name": "d", "claim_key": "k" * (MAX_CLAIM_KEY_LENGTH + 1)}, "claim_key is longer"),
        ({"name": "d", "claim_key_expires_at": "2026-01-31T12:00:00Z"}, "needs a claim_key"),
        (
            {"name": "d", "claim_key": "k", "claim_key_expires_at": "tomorrow"},
            "claim_key_expires_at must be an RFC 3339",
        ),
        ({"name": "d", "join_eui": "xyz", "dev_eui": "1" * 16, "claim_code": "C"}, "join_eui must be 16 hex digits"),
        ({"name": "d", "join_eui": "1" * 16, "dev_eui": "1" * 15, "claim_code": "C"}, "dev_eui must be 16 hex digits"),
        (
            {"name": "d", "join_eui": "1" * 16, "dev_eui": "2" * 16, "claim_code": "no-dash"},
            "claim authentication code",
        ),
        ({"name": "d", "join_eui": "1" * 16, "dev_eui": "2" * 16, "claim_code": "C" * 33}, "claim authentication code"),
        ({"name": "d", "claim_code": "C"}, "join_eui, dev_eui missing"),
        ({"name": "d", "valid_from": "2026-01-01T00:00:00Z"}, "belong to a claim_code"),
        (
            {
                "name": "d",
                "join_eui": "1" * 16,
                "dev_eui": "2" * 16,
                "claim_code": "C",
                "valid_from": "2026-02-01T00:00:00Z",
                "valid_to": "2026-01-01T00:00:00Z",
            },
            "valid_to must not be before valid_from",
        ),
        ({"name": "d", "public_key": "p" * (MAX_PUBLIC_KEY_LENGTH + 1)}, "public_key is longer"),
        ({"name": "d", "tags": "a," + "t" * 101}, "A tag is at most 100"),
        ({"name": "d", "customer": "c" * 256}, "customer is longer"),
        ({"name": "d\x00"}, "NUL"),
    ],
)
def test_every_column_is_bounded_and_checked(cells: dict[str, str], needle: str) -> None:
    assert needle in error_of(one_csv(**cells))
    assert needle in error_of(one_json(**cells))


def test_tags_are_bounded_in_number() -> None:
    assert "at most 100 tags" in error_of(one_json(name="d", tags=[f"t{i}" for i in range(101)]))


# ---------------------------------------------------------------------------------------------------
# CSV: header, quoting, bounds


def test_unknown_columns_are_refused_by_name_and_names_are_case_sensitive() -> None:
    with pytest.raises(InvalidArgument, match="unknown columns: 'Name', 'colour'"):
        read_csv_header("Name,colour,tags\n")
    with pytest.raises(InvalidArgument, match="unknown columns: 'colour'"):
        list(rows_from_csv(["name,colour\n", "d,red\n"]))


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        ("type,label\n", "no name column"),
        ("name,tags,name\n", "repeats the columns: name"),
        ('name,"tags\n', "not a CSV"),
    ],
)
def test_bad_headers_stop_the_file(header: str, needle: str) -> None:
    with pytest.raises(InvalidArgument, match=needle):
        list(rows_from_csv([header, "d\n"]))


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="empty"):
        list(rows_from_csv(["\n", "  \n"]))


def test_a_byte_order_mark_and_crlf_are_accepted() -> None:
    assert list(rows_from_csv(["\ufeffname,label\r\n", "d,L\r\n"])) == [ImportRow(row=1, name="d", label="L")]


def test_csv_quoting_of_tags_commas_and_quotes() -> None:
    lines = ["name,tags,label\n", '"dev, one","a=1,b=2, a=1","say ""hi"""\n']
    [row] = rows_from_csv(lines)
    assert row == ImportRow(row=1, name="dev, one", tags=("a=1", "b=2"), label='say "hi"')


def test_a_broken_quote_or_a_wrong_cell_count_is_a_row_error() -> None:
    lines = ["name,label\n", '"open,x\n', "a,b,c\n", "only\n", "fine,ok\n"]
    results = list(rows_from_csv(lines))
    assert "not a CSV line" in error_of(results[0])
    assert error_of(results[1]) == "the row has 3 cells, the header 2 columns"
    assert error_of(results[2]) == "the row has 1 cells, the header 2 columns"
    assert results[3] == ImportRow(row=4, name="fine", label="ok")


def test_line_length_and_row_count_are_bounded() -> None:
    lines = ["name\n", "a" * 50 + "\n", "b\n"]
    assert list(rows_from_csv(lines, max_line_length=40)) == [
        RowError(1, "the row is longer than 40 characters"),
        ImportRow(row=2, name="b"),
    ]
    with pytest.raises(InvalidArgument, match="header is longer"):
        list(rows_from_csv(["name" + " " * 50 + "\n"], max_line_length=40))
    reader = rows_from_csv(["name\n", "a\n", "b\n", "c\n"], max_rows=2)
    assert next(reader) == ImportRow(row=1, name="a")
    assert next(reader) == ImportRow(row=2, name="b")
    with pytest.raises(TooManyRows, match="more than 2 rows"):
        next(reader)


def test_the_reader_is_lazy() -> None:
    def lines() -> Iterator[str]:
        yield "name\n"
        yield "first\n"
        raise AssertionError("read too far")

    reader = rows_from_csv(lines())
    assert next(reader) == ImportRow(row=1, name="first")


# ---------------------------------------------------------------------------------------------------
# NDJSON: types


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), (None, False)])
def test_json_gateway_is_a_boolean(value: bool | None, expected: bool) -> None:
    row = one_json(name="d", gateway=value)
    assert isinstance(row, ImportRow) and row.gateway is expected


@pytest.mark.parametrize("value", ["true", "false", 1, 0, [], {}])
def test_json_gateway_must_be_true_or_false_only(value: object) -> None:
    assert "gateway must be true or false" in error_of(one_json(name="d", gateway=value))


@pytest.mark.parametrize(
    ("cells", "needle"),
    [
        ({"name": 5}, "name must be a JSON string"),
        ({"name": "d", "claim_key": 12}, "claim_key must be a JSON string"),
        ({"name": "d", "valid_from": 1_700_000_000_000}, "valid_from must be a JSON string"),
        ({"name": "d", "tags": [1]}, "tags must be a list of strings"),
        ({"name": "d", "tags": True}, "tags must be a list of strings"),
        ({"name": "d", "Name": "x", "extra": 1}, "unknown columns: 'Name', 'extra'"),
        ({"label": "x"}, "name is required"),
    ],
)
def test_json_types_are_checked(cells: dict[str, object], needle: str) -> None:
    assert needle in error_of(one_json(**cells))


def test_json_tags_as_list_or_text_and_nulls_as_not_given() -> None:
    assert one_json(name="d", tags=["a", "b,c"], label=None) == ImportRow(row=1, name="d", tags=("a", "b", "c"))
    assert one_json(name="d", tags="a,b") == ImportRow(row=1, name="d", tags=("a", "b"))


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("[1, 2]", "each line must be a JSON object"),
        ('{"name": "d",', "not JSON"),
        ('{"name": "a", "name": "b"}', "appears twice"),
        ('{"name": "d", "label": NaN}', "NaN is not JSON"),
        ('{"name": "d\\u0000"}', "NUL"),
        ('{"name": "d", "tags": ' + "[" * 40 + "]" * 40 + "}", "nested deeper"),
    ],
)
def test_json_lines_that_are_not_objects_are_row_errors(line: str, needle: str) -> None:
    results = list(rows_from_ndjson([line + "\n", '{"name": "next"}\n']))
    assert results[0].row == 1 and needle in error_of(results[0])
    assert results[1] == ImportRow(row=2, name="next")


def test_ndjson_bounds_and_blank_lines() -> None:
    lines = ['{"name": "a"}\n', "\n", '{"name": "' + "b" * 60 + '"}\n', '{"name": "c"}']
    assert list(rows_from_ndjson(lines, max_line_length=40)) == [
        ImportRow(row=1, name="a"),
        RowError(2, "the row is longer than 40 characters"),
        ImportRow(row=3, name="c"),
    ]
    with pytest.raises(TooManyRows):
        list(rows_from_ndjson(lines, max_rows=2))


# ---------------------------------------------------------------------------------------------------
# RFC 3339


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2026-01-31T12:00:00Z", 1_769_860_800_000),
        ("2026-01-31t12:00:00z", 1_769_860_800_000),
        ("2026-01-31 13:00:00+01:00", 1_769_860_800_000),
        ("2026-01-31T07:30:00-04:30", 1_769_860_800_000),
        ("2026-01-31T12:00:00.5Z", 1_769_860_800_500),
        ("2026-01-31T12:00:00.123456789Z", 1_769_860_800_123),
    ],
)
def test_parse_rfc3339(text: str, ms: int) -> None:
    assert parse_rfc3339(text) == ms


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-31T12:00:00",  # no offset
        "2026-01-31",
        "2026-02-30T00:00:00Z",
        "2026-01-31T24:00:00Z",
        "2026-06-30T23:59:60Z",
        "2026-01-31T12:00:00+24:00",
        "1969-12-31T23:59:59Z",
        "1700000000000",
        "２０２６-01-31T12:00:00Z",
        "2026-01-31T12:00:00." + "1" * 80 + "Z",
    ],
)
def test_parse_rfc3339_refuses(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_rfc3339(text, "valid_from")


# ---------------------------------------------------------------------------------------------------
# Key policy and generated keys


def test_the_default_policy_carries_100_bits() -> None:
    policy = KeyPolicy()
    assert (policy.claim_key_length, policy.claim_key_alphabet) == (DEFAULT_KEY_LENGTH, DEFAULT_KEY_ALPHABET)
    assert policy.bits == pytest.approx(100)
    assert KeyPolicy.from_query(None, None) == policy


@pytest.mark.parametrize(
    ("length", "alphabet"),
    [(20, DEFAULT_KEY_ALPHABET[:16]), (25, "0123456789"), (14, "".join(chr(c) for c in range(33, 127)))],
)
def test_keys_of_at_least_80_bits_are_accepted(length: int, alphabet: str) -> None:
    assert KeyPolicy(length, alphabet).bits >= 80


@pytest.mark.parametrize(
    ("length", "alphabet", "needle"),
    [
        (19, "0123456789abcdef", "claim_key_length >= 20 (got 19, 76.0 bits)"),
        (24, "0123456789", "claim_key_length >= 25"),
        (20, "0123456789ABCDEFGHJKMNPQRSTVWXY Z", "printable ASCII"),
        (20, "0123456789ABCDEFGHé", "printable ASCII"),
        (20, "0123456789ABCDEFGHAB", "repeats 'AB'"),
        (40, "012345678", "at least 10 symbols"),
        (0, DEFAULT_KEY_ALPHABET, "from 1 to 128"),
        (129, DEFAULT_KEY_ALPHABET, "from 1 to 128"),
    ],
)
def test_weak_or_ambiguous_policies_are_refused(length: int, alphabet: str, needle: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        KeyPolicy(length, alphabet)
    assert needle in refused.value.message


@pytest.mark.parametrize("length", ["", "abc", "-20", "2.5", "99999"])
def test_query_lengths_must_be_whole_numbers(length: str) -> None:
    with pytest.raises(InvalidArgument, match="claim_key_length"):
        KeyPolicy.from_query(length, None)


def test_from_query_reads_text() -> None:
    assert KeyPolicy.from_query(" 32 ", "0123456789abcdef") == KeyPolicy(32, "0123456789abcdef")


def test_random_keys_use_the_randomness_given() -> None:
    policy = KeyPolicy(22, "0123456789abcdefghijklmnopqrstuvwxyz")
    assert next(random_keys(policy, lambda n: bytes(n))) == "0" * 22
    assert next(random_keys(policy, lambda n: bytes([251]) * n)) == "z" * 22  # 251 % 36 = 35, under 252
    key = next(random_keys(policy, random.Random(7).randbytes))
    assert len(key) == 22 and set(key) <= set(policy.claim_key_alphabet)
    assert key == next(random_keys(policy, random.Random(7).randbytes))


def test_random_keys_spread_over_the_alphabet() -> None:
    keys = random_keys(KeyPolicy(), random.Random(1).randbytes)
    assert set("".join(next(keys) for _ in range(200))) == set(DEFAULT_KEY_ALPHABET)


# ---------------------------------------------------------------------------------------------------
# Round trips

_safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters=","),
    min_size=1,
    max_size=30,
)
_row_cells = st.fixed_dictionaries(
    {"name": _safe_text},
    optional={
        "label": _safe_text,
        "access_token": _safe_text,
        "customer": _safe_text,
        "public_key": _safe_text,
        "tags": st.lists(_safe_text, max_size=5),
    },
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_row_cells, min_size=1, max_size=5))
def test_csv_and_ndjson_round_trip(rows: list[dict[str, Any]]) -> None:
    def text(cells: dict[str, Any], column: str) -> str | None:
        value = cells.get(column)
        return None if value is None else str(value)

    expected = [
        ImportRow(
            row=number,
            name=str(cells["name"]),
            label=text(cells, "label"),
            access_token=text(cells, "access_token"),
            customer=text(cells, "customer"),
            public_key=text(cells, "public_key"),
            tags=tuple(dict.fromkeys(cells.get("tags") or [])),
        )
        for number, cells in enumerate(rows, start=1)
    ]
    as_json = [json.dumps(cells) + "\n" for cells in rows]
    assert list(rows_from_ndjson(as_json)) == expected
    flat = [
        {column: ",".join(value) if isinstance(value, list) else str(value) for column, value in cells.items()}
        for cells in rows
    ]
    header = [
        column for column in COLUMNS if column in {"name", "label", "access_token", "customer", "public_key", "tags"}
    ]
    assert list(rows_from_csv(csv_text([{c: row.get(c, "") for c in header} for row in flat], header))) == expected


def test_the_docs_table_lists_every_column() -> None:
    page = (Path(__file__).parents[2] / "docs" / "provisioning.md").read_text(encoding="utf-8")
    documented = re.findall(r"^\| `([a-z_]+)` \|", page, re.MULTILINE)
    assert documented == list(COLUMNS)


# ---------------------------------------------------------------------------------------------------
# Chunks of a streamed file (the upload of POST /v1/devices/bulk)


def _chunked(fmt: ImportFormat, text: str, chunk_rows: int, cuts: list[int] | None = None, **kw: int):
    chunker = LineChunker(fmt, chunk_rows, **kw)
    pieces, start = [], 0
    for cut in cuts or []:
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    chunks = [chunk for piece in pieces for chunk in chunker.feed(piece)]
    chunks += list(chunker.close())
    return chunker, chunks


def test_chunks_number_rows_as_the_whole_file_does_wherever_the_text_is_cut() -> None:
    text = "\ufeffname,claim_key\r\n\r\na,generate\nb,k1\n\n  \nc,\nd,k2\ne,"
    whole = [r.row for r in rows_from_csv(text.splitlines(keepends=True))]
    for cut in range(len(text) + 1):
        chunker, chunks = _chunked(ImportFormat.CSV, text, 2, [cut])
        assert chunker.header == "name,claim_key" and chunker.rows == 5
        assert [(c.first_row, len(c.lines)) for c in chunks] == [(1, 2), (3, 2), (5, 1)]
        read = [row for c in chunks for row in read_chunk(ImportFormat.CSV, chunker.header, c)]
        assert [r.row for r in read] == whole == [1, 2, 3, 4, 5]
        assert [r.name for r in read if isinstance(r, ImportRow)] == ["a", "b", "c", "d", "e"]


def test_a_csv_header_is_checked_as_it_arrives() -> None:
    chunker = LineChunker(ImportFormat.CSV, 10)
    with pytest.raises(InvalidArgument, match="unknown columns"):
        list(chunker.feed("nom,claim_key\n"))
    with pytest.raises(InvalidArgument, match="empty"):
        _chunked(ImportFormat.CSV, "\n\n", 10)
    chunker, chunks = _chunked(ImportFormat.CSV, "name\n", 10)
    assert chunker.rows == 0 and chunks == []


def test_json_lines_have_no_header() -> None:
    chunker, chunks = _chunked(ImportFormat.NDJSON, '{"name": "a"}\n\n{"name": "b"}\n{"name": 3}', 2)
    assert chunker.header is None and [c.first_row for c in chunks] == [1, 3]
    read = [row for c in chunks for row in read_chunk(ImportFormat.NDJSON, None, c)]
    assert [r.row for r in read] == [1, 2, 3] and isinstance(read[2], RowError)


def test_a_long_line_is_cut_not_held_and_reported_by_its_row() -> None:
    text = "name\n" + "x" * (MAX_LINE_LENGTH + 5000) + "\nshort\n"
    cuts = list(range(5, MAX_LINE_LENGTH + 5005, 4093))
    chunker, chunks = _chunked(ImportFormat.CSV, text, 10, cuts)
    assert [len(line) for line in chunks[0].lines] == [MAX_LINE_LENGTH + 1, 5]
    read = list(read_chunk(ImportFormat.CSV, chunker.header, chunks[0]))
    assert isinstance(read[0], RowError) and read[0].row == 1 and "longer than" in read[0].message
    assert isinstance(read[1], ImportRow) and read[1].row == 2


def test_more_rows_than_allowed_stop_the_upload() -> None:
    with pytest.raises(TooManyRows):
        _chunked(ImportFormat.NDJSON, '{"name": "a"}\n' * 4, 2, max_rows=3)


# ---------------------------------------------------------------------------------------------------
# Generated keys, many at a time


def test_random_keys_follow_the_policy_and_every_symbol_is_as_likely() -> None:
    policy = KeyPolicy(16, "0123456789abcdefghijklmnopqrstuv")
    keys = random_keys(policy, random.Random(7).randbytes)
    made = [next(keys) for _ in range(2000)]
    assert all(len(key) == 16 and set(key) <= set(policy.claim_key_alphabet) for key in made)
    assert len(set(made)) == 2000
    counts = collections.Counter("".join(made))
    expected = 2000 * 16 / 32
    assert sum((count - expected) ** 2 / expected for count in counts.values()) < 70  # chi-square, 31 dof


def test_random_keys_drop_the_bytes_that_would_favour_some_symbols() -> None:
    policy = KeyPolicy(25, "0123456789")  # 10 symbols: bytes 250-255 would favour 0-5

    def biased(n: int) -> bytes:
        return bytes([255, 250, 9] * n)[:n]

    key = next(random_keys(policy, biased))
    assert key == "9" * 25
