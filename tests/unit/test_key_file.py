"""The one reader of an API key file (harness.checks.read_api_key_file, catalogue CFG-09)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks import MAX_KEY_FILE_BYTES, read_api_key_file
from harness.errors import ConfigError

KEY = "sk-test-0123456789"


def error_of(path: Path, label: str = "") -> str:
    with pytest.raises(ConfigError) as caught:
        read_api_key_file(path, label)
    return str(caught.value)


def test_a_kubernetes_secret_file_with_a_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"\xef\xbb\xbf" + KEY.encode() + b"\n")  # with a byte-order mark
    warnings: list[str] = []
    assert read_api_key_file(path, "--llm-api-key-file", warnings) == KEY
    assert warnings == [
        "--llm-api-key-file: the key in key: surrounding whitespace removed from the API key"
    ]
    unlabelled: list[str] = []
    assert read_api_key_file(path, warnings=unlabelled) == KEY
    assert unlabelled == ["the key in key: surrounding whitespace removed from the API key"]


def test_what_cannot_be_a_key_is_one_line_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    assert error_of(missing, "--llm-api-key-file") == (
        f"--llm-api-key-file: no such file: {missing}"
    )
    assert error_of(tmp_path) == f"{tmp_path} is a directory"
    empty = tmp_path / "empty"
    empty.write_text(" \n")
    assert error_of(empty, "LOCUST_LLM_API_KEY_FILE") == (
        f"LOCUST_LLM_API_KEY_FILE: {empty} is empty"
    )
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00")
    assert error_of(binary) == f"{binary} is not UTF-8 text"
    large = tmp_path / "large"
    large.write_bytes(b"a" * (MAX_KEY_FILE_BYTES + 1))
    assert error_of(large) == f"{large} is larger than 65,536 bytes; not a key"


def test_a_bad_character_is_named_by_position_never_by_showing_the_key(tmp_path: Path) -> None:
    path = tmp_path / "key.txt"
    path.write_text(KEY[:5] + "\u201c" + KEY[5:])
    message = error_of(path, "--llm-api-key-file")
    assert message == (
        "--llm-api-key-file: the key in key.txt: the API key contains U+201C at position 5 "
        "(smart quote?); expected printable ASCII"
    )
    assert KEY[5:] not in message
