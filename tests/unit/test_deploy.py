"""The deployment files, checked without Docker or Kubernetes (none exists here).

- docker-compose.yml validates against the Compose Specification's JSON schema (vendored in
  tests/fixtures/compose-spec/, source and license beside it);
- every command of a harness container (compose and Kubernetes) is accepted by the real
  parser of the entry point it names: Locust's own parser with the locustfile loaded (so the
  harness's `--llm-…` options are registered), `locust-llm`'s, or the mock's; every flag is
  spelled out in full (argparse would accept an abbreviation);
- (the Prometheus configuration, with Debian's promtool and prometheus, is checked in
  tests/integration/test_deploy_prometheus.py: tests/unit needs no system package);
- the Kubernetes manifests parse, with consistent labels, selectors, ports and names;
- the Dockerfile builds from what .dockerignore lets through, runs as a numeric non-root user,
  and its entry points exist; the build context makes a wheel with the `locust-llm` script.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
HEADLESS_OVERRIDE = ROOT / "deploy" / "compose" / "headless.yml"
SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec" / "compose-spec.json"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
K8S = ROOT / "deploy" / "k8s"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
#: where the Dockerfile puts the locustfiles (checked in test_dockerfile_…)
IMAGE_LOCUSTFILES = "/app/locustfiles/"
EXPORTER_PORT = "9646"


# ------------------------------------------------------------------------------ helpers


def _interpolate(value: str) -> str:
    """Compose's variable interpolation with nothing set: `${V:-d}`/`${V-d}` → d, `${V:?e}` →
    a placeholder, `${V}`/`$V` → empty, `$$` → `$`."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        body = match.group(1) or match.group(2) or ""
        for op in (":-", "-"):
            if op in body:
                return body.split(op, 1)[1]
        if ":?" in body or "?" in body:
            return "set-in-the-environment"
        return ""

    return re.sub(r"\$\$|\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", one, value)


def _walk_interpolate(node: Any) -> Any:
    if isinstance(node, str):
        return _interpolate(node)
    if isinstance(node, list):
        return [_walk_interpolate(item) for item in node]
    if isinstance(node, dict):
        return {key: _walk_interpolate(value) for key, value in node.items()}
    return node


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _harness_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services that run the project's image (built from the Dockerfile)."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def _as_argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def _k8s_documents() -> list[dict[str, Any]]:
    """Every Kubernetes object in deploy/k8s (kustomization.yaml is kustomize's, not one)."""
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def _k8s(kind: str, name: str) -> dict[str, Any]:
    for doc in _k8s_documents():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name} in deploy/k8s")


def _containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in _k8s_documents():
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                yield doc["metadata"]["name"], container


def _scripts() -> set[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(pyproject["project"]["scripts"])


#: Parses each command with Locust's real parser, the locustfile loaded first (its import
#: registers the harness's options), as `locust` itself does. Reads JSON from stdin:
#: [{"argv": [...], "config": "locust.conf text" | null, "env": {...}}]; prints one JSON
#: result per item.
_LOCUST_PARSE = r"""
import json, os, sys, tempfile
from locust.argument_parser import get_parser
from locust.util.load_locustfile import load_locustfile

jobs = json.load(sys.stdin)
loaded = set()
results = []
for job in jobs:
    for name in [k for k in os.environ if k.startswith("LOCUST_")]:
        del os.environ[name]
    os.environ.update(job.get("env") or {})
    argv = job["argv"]
    path = argv[argv.index("-f") + 1]
    if path not in loaded:
        load_locustfile(path)
        loaded.add(path)
    parser = get_parser(default_config_files=[])
    if job.get("config") is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write(job["config"])
        argv = [*argv, "--config", f.name]
    result = {"options": sorted(parser._option_string_actions)}
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:
        result["error"] = f"exit {exc.code}"
    else:
        scalars = (str, int, float, bool, type(None))
        result["values"] = {k: v for k, v in vars(ns).items() if isinstance(v, scalars)}
    results.append(result)
print(json.dumps(results))
"""


def _locust_parse(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    result = subprocess.run(
        [sys.executable, "-c", _LOCUST_PARSE],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results: list[dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return results


def _local_locustfile(argv: list[str]) -> list[str]:
    """The container's /app/locustfiles/… path as the repository's locustfiles/…."""
    argv = list(argv)
    index = argv.index("-f") + 1
    assert argv[index].startswith(IMAGE_LOCUSTFILES), argv[index]
    local = ROOT / "locustfiles" / argv[index].removeprefix(IMAGE_LOCUSTFILES)
    assert local.is_file(), f"{argv[index]}: no {local.relative_to(ROOT)} in the repository"
    argv[index] = str(local)
    return argv


def _long_flags(argv: list[str]) -> list[str]:
    return [arg.split("=", 1)[0] for arg in argv if arg.startswith("--")]


def _check_harness_command(argv: list[str], where: str) -> None:
    """A `locust-llm …` command: a declared script whose parser accepts it, flags unabridged."""
    from harness.cli import build_parser as cli_parser
    from harness.mock.cli import build_parser as mock_parser

    assert argv[0] == "locust-llm", where
    assert argv[0] in _scripts(), f"{where}: {argv[0]} is not a [project.scripts] entry"
    if argv[1] == "mock":
        parser, args = mock_parser("locust-llm mock"), argv[2:]
    else:
        parser, args = cli_parser(), argv[1:]
    try:
        parser.parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"{where}: `{shlex.join(argv)}` is refused by its parser (exit {exc.code})")
    known = set(parser._option_string_actions)
    for sub in parser._subparsers._group_actions if parser._subparsers else ():
        choices = cast("dict[str, argparse.ArgumentParser]", sub.choices)
        for subparser in choices.values():
            known |= set(subparser._option_string_actions)
    unknown = [flag for flag in _long_flags(argv) if flag not in known]
    assert not unknown, f"{where}: flags not spelled as the parser declares them: {unknown}"


def _check_locust_commands(
    items: list[tuple[str, list[str], str | None]], env: dict[str, dict[str, str]] | None = None
) -> dict[str, Any]:
    """Locust commands (where, argv with the container's paths, a --config file's text), with
    the container's environment by `where` (its LOCUST_… variables are options too)."""
    jobs = []
    for where, argv, config in items:
        assert argv[0] == "locust", where
        job_env = {k: str(v) for k, v in (env or {}).get(where, {}).items()}
        jobs.append({"argv": _local_locustfile(argv[1:]), "config": config, "env": job_env})
    results = _locust_parse(jobs)
    by_where = {}
    for (where, argv, _), result in zip(items, results, strict=True):
        assert "error" not in result, (
            f"{where}: Locust refuses `{shlex.join(argv)}` ({result['error']})"
        )
        unknown = [flag for flag in _long_flags(argv) if flag not in result["options"]]
        assert not unknown, f"{where}: flags Locust does not declare (abbreviated?): {unknown}"
        by_where[where] = result["values"]
    return by_where


# ------------------------------------------------------------------------------ compose


def test_compose_file_validates_against_the_compose_specification_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(_compose())]
    assert not errors, errors
    # and the schema really checks something: a misspelt key is refused
    broken = _compose()
    broken["services"]["worker"]["comand"] = ["locust"]
    assert not validator.is_valid(broken)


def test_compose_has_the_stack_and_one_image_for_the_harness() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"mock", "master", "worker", "prometheus", "grafana"}
    harness = _harness_services(compose)
    assert set(harness) == {"mock", "master", "worker"}
    images = {svc["image"] for svc in harness.values()}
    assert len(images) == 1, images
    for svc in harness.values():
        assert svc["build"]["context"] == "."
        assert (ROOT / svc["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert services["prometheus"]["image"].startswith("prom/prometheus:v")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    # workers scale with --scale worker=N: no fixed name, no published port
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert "8089" in " ".join(services["master"]["ports"])


def test_every_compose_command_is_a_real_entry_point_of_the_image() -> None:
    compose = _walk_interpolate(_compose())
    locust_items: list[tuple[str, list[str], str | None]] = []
    for name, svc in _harness_services(compose).items():
        argv = _as_argv(svc["command"])
        assert "entrypoint" not in svc, name
        if argv[0] == "locust":
            locust_items.append((f"compose {name}", argv, None))
        else:
            _check_harness_command(argv, f"compose {name}")
    values = _check_locust_commands(locust_items)
    master, worker = values["compose master"], values["compose worker"]
    assert master["master"] is True
    assert master["host"] == "http://mock:8000/v1"  # the mock unless TARGET_HOST is set
    assert str(master["llm_prometheus_port"]) == EXPORTER_PORT
    assert master["llm_prometheus_host"] == "0.0.0.0"
    assert worker["worker"] is True
    assert worker["master_host"] == "master"  # the master service's name


def test_the_headless_override_validates_and_locust_reads_its_settings() -> None:
    override = yaml.safe_load(HEADLESS_OVERRIDE.read_text())
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(override, schema, cls=jsonschema.Draft202012Validator)
    assert set(override["services"]) == {"master"}
    compose = _walk_interpolate(_compose())
    master = compose["services"]["master"]
    env = {
        **master["environment"],
        **_walk_interpolate(override)["services"]["master"]["environment"],
    }
    assert all(name.startswith("LOCUST_") or name == "OPENAI_API_KEY" for name in env)
    values = _check_locust_commands(
        [("headless master", _as_argv(master["command"]), None)], {"headless master": env}
    )["headless master"]
    assert values["headless"] is True
    assert values["num_users"] == 32
    assert values["run_time"] == 300
    assert values["expect_workers"] == 4
    assert values["exit_code_on_error"] == 0


def test_compose_passes_the_api_key_through_and_holds_no_secret() -> None:
    compose = _compose()
    for name in ("master", "worker"):
        env = compose["services"][name]["environment"]
        assert env["OPENAI_API_KEY"] == "${OPENAI_API_KEY:-}", name
    grafana = compose["services"]["grafana"]["environment"]
    password = grafana["GF_SECURITY_ADMIN_PASSWORD"]
    assert password.startswith("${GRAFANA_ADMIN_PASSWORD:?"), "no default admin secret"
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert grafana["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    text = COMPOSE.read_text()
    assert not re.search(r"sk-[A-Za-z0-9]{8,}", text)


def test_compose_mounts_exist_and_match_the_provisioning() -> None:
    compose = _compose()
    targets = {}
    for name in ("prometheus", "grafana"):
        for volume in compose["services"][name]["volumes"]:
            source, target = volume.split(":")[:2]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
                targets[target] = ROOT / source
    prometheus_command = compose["services"]["prometheus"]["command"]
    config = next(a for a in prometheus_command if a.startswith("--config.file="))
    assert targets[config.split("=", 1)[1]] == PROMETHEUS_CONFIG
    assert targets["/etc/grafana/provisioning"] == GRAFANA_PROVISIONING
    provider = yaml.safe_load(
        (GRAFANA_PROVISIONING / "dashboards" / "locust-llm.yaml").read_text()
    )["providers"][0]
    dashboards_dir = targets[provider["options"]["path"]]
    assert dashboards_dir == ROOT / "dashboards"
    assert list(dashboards_dir.glob("*.json")), "no dashboard JSON to provision"
    home = compose["services"]["grafana"]["environment"][
        "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"
    ]
    assert (dashboards_dir / Path(home).name).is_file()
    datasource = yaml.safe_load(
        (GRAFANA_PROVISIONING / "datasources" / "prometheus.yaml").read_text()
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"  # the prometheus service
    assert datasource["isDefault"] is True
    assert datasource["type"] == "prometheus"


# ------------------------------------------------------------------------------ prometheus


def test_the_prometheus_config_scrapes_the_master_only_as_often_as_grafana_expects() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    targets = [
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    ]
    assert targets == [f"master:{EXPORTER_PORT}"]
    datasource = yaml.safe_load(
        (GRAFANA_PROVISIONING / "datasources" / "prometheus.yaml").read_text()
    )["datasources"][0]
    assert datasource["jsonData"]["timeInterval"] == config["global"]["scrape_interval"]


# ------------------------------------------------------------------------------ kubernetes


def test_k8s_manifests_parse_with_the_expected_kinds() -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in _k8s_documents())
    assert kinds == [
        ("ConfigMap", "locust-llm-config"),
        ("Deployment", "locust-llm-master"),
        ("Deployment", "locust-llm-mock"),
        ("Deployment", "locust-llm-worker"),
        ("Service", "locust-llm-master"),
        ("Service", "locust-llm-mock"),
        ("ServiceMonitor", "locust-llm-master"),
    ]
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    applied = {
        (d["kind"], d["metadata"]["name"])
        for resource in kustomization["resources"]
        for d in yaml.safe_load_all((K8S / resource).read_text())
    }
    # everything but the ServiceMonitor (it needs the Prometheus Operator's CRD) is applied
    assert applied == set(kinds) - {("ServiceMonitor", "locust-llm-master")}
    images = {c["image"] for _, c in _containers()}
    assert images == {kustomization["images"][0]["name"]}


def test_k8s_selectors_labels_and_ports_are_consistent() -> None:
    docs = _k8s_documents()
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    services = [d for d in docs if d["kind"] == "Service"]
    for deployment in deployments:
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), deployment["metadata"]["name"]
    for service in services:
        selector = service["spec"]["selector"]
        matches = [
            d
            for d in deployments
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matches) == 1, service["metadata"]["name"]
        port_names = {
            p["name"]
            for c in matches[0]["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, (service["metadata"]["name"], port)
    master = _k8s("Service", "locust-llm-master")
    ports = {p["name"]: p["port"] for p in master["spec"]["ports"]}
    assert ports == {"web": 8089, "master": 5557, "metrics": int(EXPORTER_PORT)}
    monitor = _k8s("ServiceMonitor", "locust-llm-master")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= master["metadata"]["labels"].items()
    )
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
    annotations = master["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == EXPORTER_PORT
    assert _k8s("Deployment", "locust-llm-master")["spec"]["replicas"] == 1
    assert _k8s("Deployment", "locust-llm-worker")["spec"]["replicas"] >= 1


def test_k8s_commands_are_real_entry_points_and_wire_master_and_workers() -> None:
    config = _k8s("ConfigMap", "locust-llm-config")["data"]["locust.conf"]
    items = []
    for name, container in _containers():
        argv = [*container["command"], *container.get("args", [])]
        if argv[0] == "locust":
            config_text = None
            if "--config" in argv:
                index = argv.index("--config")
                mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
                assert str(Path(argv[index + 1]).parent) in mounts, name
                config_text = config
                argv = argv[:index] + argv[index + 2 :]
            items.append((f"k8s {name}", argv, config_text))
        else:
            _check_harness_command(argv, f"k8s {name}")
    values = _check_locust_commands(items)
    master, worker = values["k8s locust-llm-master"], values["k8s locust-llm-worker"]
    assert master["master"] is True
    assert master["host"] == "http://locust-llm-mock:8000/v1"  # from the ConfigMap
    assert master["llm_scenario_name"] == "k8s"
    assert str(master["llm_prometheus_port"]) == EXPORTER_PORT
    assert master["llm_prometheus_host"] == "0.0.0.0"
    assert worker["worker"] is True
    assert worker["master_host"] == "locust-llm-master"  # the master Service
    assert worker["master_port"] == master["master_bind_port"] == 5557
    mock = _k8s("Service", "locust-llm-mock")
    assert master["host"].startswith(f"http://{mock['metadata']['name']}:8000/")


def test_k8s_pods_run_as_the_images_non_root_user_and_read_the_key_from_a_secret() -> None:
    uid = _dockerfile_user()
    for doc in _k8s_documents():
        if doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == uid
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert "cpu" not in container["resources"].get("limits", {}), (
                "a CPU limit throttles the event loop and inflates latencies"
            )
            for env in container.get("env", []):
                if env["name"] == "OPENAI_API_KEY":
                    assert "value" not in env
                    assert env["valueFrom"]["secretKeyRef"]["key"] == "OPENAI_API_KEY"
    text = "".join(p.read_text() for p in K8S.rglob("*.yaml"))
    assert "kind: Secret" not in text  # created by the user: kubectl create secret …


# ------------------------------------------------------------------------------ Dockerfile


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            out.append((instruction.upper(), rest.strip()))
    return out


def _dockerfile_user() -> int:
    users = [rest for instruction, rest in _dockerfile() if instruction == "USER"]
    assert users, "the image must not run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "a numeric USER lets Kubernetes verify runAsNonRoot"
    assert int(uid) != 0
    return int(uid)


def _docker_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match plus `**`) as a regular expression."""
    out = "(?:.*/)?" if pattern.startswith("**/") else ""
    pattern = pattern.removeprefix("**/")
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins, `!` re-includes, and a pattern that
    matches a parent folder covers what is inside it."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _docker_pattern(pattern.removeprefix("!").strip("/"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            ignored = not negate
    return ignored


def _dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _build_context() -> list[str]:
    patterns = _dockerignore_patterns()
    files = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv/", ".git/")) or not path.is_file():
            continue
        if not _dockerignored(rel, patterns):
            files.append(rel)
    return sorted(files)


def test_dockerfile_base_user_install_and_entry_points() -> None:
    steps = _dockerfile()
    assert steps[0] == ("FROM", "python:3.11-slim")
    _dockerfile_user()
    user_at = max(i for i, (ins, _) in enumerate(steps) if ins == "USER")
    assert all(ins != "RUN" for ins, _ in steps[user_at + 1 :]), "nothing runs as root after USER"
    runs = " ".join(rest for ins, rest in steps if ins == "RUN")
    assert "pip install ." in runs
    copies = [rest.split() for ins, rest in steps if ins == "COPY"]
    assert ["locustfiles", IMAGE_LOCUSTFILES.rstrip("/")] in copies
    for command in (rest for ins, rest in steps if ins in ("CMD", "ENTRYPOINT")):
        argv = json.loads(command)
        assert argv[0] in _scripts() | {"locust"}, argv
        if argv[0] == "locust-llm":
            _check_harness_command(argv, "Dockerfile CMD")
    for ins, rest in steps:
        if ins == "EXPOSE":
            assert set(rest.split()) == {"8089", "5557", EXPORTER_PORT, "8000"}


def test_dockerignore_lets_through_what_the_dockerfile_copies_and_nothing_secret() -> None:
    context = _build_context()
    for ins, rest in _dockerfile():
        if ins == "COPY":
            for source in rest.split()[:-1]:
                source = source.rstrip("/")
                wanted = [f for f in context if f == source or f.startswith(source + "/")]
                assert wanted, f"COPY {source}: excluded from the build context by .dockerignore"
    python_sources = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "harness").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert python_sources <= set(context)
    for private in (".env", "tests/conftest.py", "docs/deploy.md", ".git/config"):
        assert _dockerignored(private, _dockerignore_patterns()), private


@pytest.mark.slow
def test_the_build_context_builds_a_wheel_with_the_entry_point(tmp_path: Path) -> None:
    context = tmp_path / "context"
    for rel in _build_context():
        target = context / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path)]
    if importlib.util.find_spec("hatchling") is not None:
        cmd.append("--no-build-isolation")  # else pip fetches it from PyPI, as docker would
    result = subprocess.run(
        [*cmd, str(context)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (wheel,) = tmp_path.glob("locust_llm-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "locust-llm = harness.cli:main" in archive.read(entry_points).decode()
    assert "harness/exporters/prometheus.py" in names
    assert "harness/mock/cli.py" in names
