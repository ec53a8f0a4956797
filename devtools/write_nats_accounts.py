"""Write the parts' NATS accounts into deploy/: `nats-accounts.conf` and the Kubernetes ConfigMap that
carries the same text (tests/security/test_nats_permissions.py checks both against the code).

    .venv/bin/python devtools/write_nats_accounts.py
"""

from __future__ import annotations

from pathlib import Path

from selfeval.permissions import deploy_accounts_config

DEPLOY = Path(__file__).parents[1] / "deploy"
CONFIG_MAP_KEY = "  nats-accounts.conf: |"


def main() -> None:
    config = deploy_accounts_config()
    (DEPLOY / "nats-accounts.conf").write_text(config)
    manifest = DEPLOY / "k8s" / "10-nats.yaml"
    lines = manifest.read_text().split("\n")
    start = lines.index(CONFIG_MAP_KEY) + 1
    end = start
    while end < len(lines) and (lines[end].startswith("    ") or not lines[end]):
        end += 1
    while not lines[end - 1]:
        end -= 1  # blank lines after the block belong to the manifest
    block = [f"    {line}" if line else "" for line in config.rstrip("\n").split("\n")]
    manifest.write_text("\n".join(lines[:start] + block + lines[end:]))


if __name__ == "__main__":
    main()
