"""Bad input and unreachable endpoints end the tier with their own exit codes and a
message naming the file and key, or the endpoint (docs/interfaces.md)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from scratch import ScratchEnvironment

from fixtures.core.tools import REPO_ROOT


def tier(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "suites/validate", "-p", "no:cacheprovider", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.validate
def test_unknown_environment_exits_65_listing_known() -> None:
    result = tier("--env", "prod")
    assert result.returncode == 65, result.stdout + result.stderr
    assert (
        "unknown environment 'prod'; known: dev, lab, lab-real-node, production, staging"
        in result.stderr
    )


@pytest.mark.validate
def test_missing_env_option_exits_64() -> None:
    result = tier()
    assert result.returncode == 64, result.stdout + result.stderr
    assert (
        "--env is required; known environments: dev, lab, lab-real-node, production, staging"
        in result.stderr
    )


@pytest.mark.validate
def test_malformed_environment_file_exits_65_naming_file_and_key(tmp_path: Path) -> None:
    source = (REPO_ROOT / "environments" / "lab.yaml").read_text()
    bad = tmp_path / "lab.yaml"
    bad.write_text(source.replace("success_rate_min:", "sucess_rate_min:"))
    result = tier("--env-file", str(bad))
    assert result.returncode == 65, result.stdout + result.stderr
    assert f"{bad}: slo.sucess_rate_min: Additional properties are not allowed" in result.stderr


@pytest.mark.validate
def test_missing_environment_file_exits_66(tmp_path: Path) -> None:
    result = tier("--env-file", str(tmp_path / "nowhere.yaml"))
    assert result.returncode == 66, result.stdout + result.stderr
    assert "nowhere.yaml does not exist" in result.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("endpoint", ["service", "prometheus", "cluster"])
def test_unreachable_endpoint_exits_69_naming_it(
    scratch: ScratchEnvironment, endpoint: str, tmp_path: Path
) -> None:
    # Given: the endpoint's address is a closed port
    url = f"http://127.0.0.1:{closed_port()}"
    if endpoint == "service":
        env_file = scratch.env_file(service__base_url=url)
    elif endpoint == "prometheus":
        env_file = scratch.env_file(prometheus__url=url)
    else:
        kubeconfig = tmp_path / "kubeconfig"
        text = Path(scratch.cluster.kubeconfig).read_text()
        kubeconfig.write_text(text.replace("https://127.0.0.1:16443", url.replace("http", "https")))
        env_file = scratch.env_file(cluster__kubeconfig=str(kubeconfig))

    # When
    result = scratch.run_tier(env_file=env_file)

    # Then: 69, not a failed check, and the message names the endpoint
    assert result.returncode == 69, result
    assert url.split("//")[1] in result.output, result
    assert not result.failed(), result
