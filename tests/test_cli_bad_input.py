"""Bad input to `harness probe`: one line on stderr, exit 2, no traceback, nothing written."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.cli import main
from harness.targets.local.pki import make_ca, write_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pki") / "bundle.pem"
    write_bundle(path, [make_ca("rds-ca-rsa2048-g1", "ecdsa384", 30)])
    return path


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARNESS_DB_PASSWORD", "not-a-real-secret")
    return tmp_path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["probe", *args])
    err = capsys.readouterr().err
    return code, err


def _assert_one_line_error(code: int, err: str, expected: str, workdir: Path) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("harness: error: ")
    assert expected in lines[0]
    assert "Traceback" not in err
    assert list(workdir.iterdir()) == [], "bad input must not write anything"


def test_missing_password_variable(
    workdir: Path, bundle: Path, closed_port: int, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("HARNESS_DB_PASSWORD")
    code, err = _run(["--endpoint", f"127.0.0.1:{closed_port}", "--ca-bundle", str(bundle)], capsys)
    _assert_one_line_error(code, err, "HARNESS_DB_PASSWORD is not set", workdir)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--probes", "write,delete"], "unknown probe kind 'delete'"),
        (["--interval-ms", "0"], "--interval-ms must be greater than zero"),
        (["--interval-ms", "-5"], "--interval-ms must be greater than zero"),
        (["--duration", "0"], "--duration must be greater than zero"),
        (["--interval-ms", "fast"], "'fast' is not a valid float"),
        (["--no-such-flag"], "No such option"),
    ],
)
def test_bad_flags(
    workdir: Path, bundle: Path, closed_port: int, capsys: pytest.CaptureFixture[str],
    extra: list[str], expected: str,
) -> None:  # fmt: skip
    code, err = _run(
        ["--endpoint", f"127.0.0.1:{closed_port}", "--ca-bundle", str(bundle), *extra], capsys
    )
    _assert_one_line_error(code, err, expected, workdir)


def test_endpoint_without_port(
    workdir: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(["--endpoint", "localhost", "--ca-bundle", str(bundle)], capsys)
    _assert_one_line_error(code, err, "is not HOST:PORT", workdir)


def test_ca_bundle_missing(
    workdir: Path, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(
        ["--endpoint", f"127.0.0.1:{closed_port}", "--ca-bundle", "/nonexistent/ca.pem"], capsys
    )
    _assert_one_line_error(code, err, "does not exist", workdir)


def test_ca_bundle_is_a_directory(
    workdir: Path, tmp_path_factory: pytest.TempPathFactory, closed_port: int,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    folder = tmp_path_factory.mktemp("not-a-file")
    code, err = _run(["--endpoint", f"127.0.0.1:{closed_port}", "--ca-bundle", str(folder)], capsys)
    _assert_one_line_error(code, err, "is not a file", workdir)


def test_ca_bundle_not_pem(
    workdir: Path, tmp_path_factory: pytest.TempPathFactory, closed_port: int,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    junk = tmp_path_factory.mktemp("junk") / "bundle.pem"
    junk.write_bytes(b"\x00\x01 this is not a certificate\n")
    code, err = _run(["--endpoint", f"127.0.0.1:{closed_port}", "--ca-bundle", str(junk)], capsys)
    _assert_one_line_error(code, err, "holds no PEM certificate", workdir)


def test_out_not_empty(
    workdir: Path, bundle: Path, closed_port: int, tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path_factory.mktemp("previous-run")
    (out / "history.jsonl").write_text("{}\n")
    code, err = _run(
        ["--endpoint", f"127.0.0.1:{closed_port}", "--ca-bundle", str(bundle), "--out", str(out)],
        capsys,
    )
    _assert_one_line_error(code, err, "is not empty", workdir)
    assert (out / "history.jsonl").read_text() == "{}\n"


def test_unreachable_endpoint_is_not_recorded_as_an_outage(
    workdir: Path, bundle: Path, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(
        ["--endpoint", f"127.0.0.1:{closed_port}", "--ca-bundle", str(bundle), "--duration", "1"],
        capsys,
    )
    _assert_one_line_error(code, err, f"cannot reach 127.0.0.1:{closed_port}", workdir)


def test_unresolvable_endpoint(
    workdir: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(
        ["--endpoint", "no-such-host.invalid:3306", "--ca-bundle", str(bundle)], capsys
    )
    _assert_one_line_error(code, err, "cannot reach no-such-host.invalid:3306", workdir)
