"""The Kubernetes manifests for tf.data service parse and run commands that exist."""

import shlex
from pathlib import Path

import yaml

from pipeline import cli

MANIFEST = Path(__file__).resolve().parents[1] / "deploy" / "data-service.yaml"


def _containers(documents):
    for document in documents:
        if document["kind"] == "Deployment":
            yield document["metadata"]["name"], document["spec"]["template"]["spec"]["containers"][0]


def test_manifests_parse_and_name_real_commands():
    documents = list(yaml.safe_load_all(MANIFEST.read_text()))
    assert sorted(d["kind"] for d in documents) == ["Deployment", "Deployment", "Service"]
    containers = dict(_containers(documents))
    assert set(containers) == {"flowers-data-dispatcher", "flowers-data-worker"}
    parser = cli.build_parser()
    roles = {}
    for container in containers.values():
        command = container["command"]
        assert command[0] == "flowers"
        args = parser.parse_args([arg.replace("$(POD_IP)", "10.0.0.7") for arg in command[1:]])
        assert args.command == "data-service"
        roles[args.role] = args
        assert container["image"].endswith("flowers-tfx:latest")
        assert container["ports"][0]["containerPort"] == args.port, shlex.join(command)
    service = next(d for d in documents if d["kind"] == "Service")
    # Workers reach the dispatcher through its Service, on the port the dispatcher listens on.
    assert roles["worker"].dispatcher == f"{service['metadata']['name']}:{roles['dispatcher'].port}"
    assert service["spec"]["ports"][0]["targetPort"] == roles["dispatcher"].port
    assert roles["worker"].worker_address == f"10.0.0.7:{roles['worker'].port}"
