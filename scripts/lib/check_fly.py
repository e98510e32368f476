#!/usr/bin/env python3
"""Checks fly.toml without flyctl (which cannot be fetched here): valid
TOML, only the keys Fly's reference documents
(https://fly.io/docs/reference/configuration/) in each table, and what
agora relies on: SIGTERM with a kill_timeout longer than the drain, a
rolling deploy that migrates first, the data volume on /data, services for
the native protocol (7070) and HTTP (7080) with a /readyz check.

Usage: check_fly.py [fly.toml]; prints one line per problem, exit 1 if any.
"""
import re
import sys
import tomllib

KEYS = {
    "": {"app", "primary_region", "kill_signal", "kill_timeout", "swap_size_mb",
         "console_command", "experimental", "build", "deploy", "env", "http_service",
         "services", "checks", "mounts", "metrics", "processes", "restart", "statics",
         "files", "vm", "host_dedication_id"},
    "build": {"builder", "buildpacks", "image", "dockerfile", "build-target",
              "ignorefile", "args", "settings"},
    "deploy": {"release_command", "release_command_timeout", "strategy",
               "max_unavailable", "wait_timeout"},
    "services": {"internal_port", "protocol", "processes", "auto_stop_machines",
                 "auto_start_machines", "min_machines_running", "ports", "concurrency",
                 "tcp_checks", "http_checks", "proxy_proto_options"},
    "services.ports": {"port", "start_port", "end_port", "handlers", "force_https",
                       "tls_options", "http_options"},
    "services.concurrency": {"type", "hard_limit", "soft_limit"},
    "services.tcp_checks": {"grace_period", "interval", "timeout"},
    "services.http_checks": {"grace_period", "interval", "timeout", "method", "path",
                             "protocol", "tls_skip_verify", "tls_server_name", "headers"},
    "mounts": {"source", "destination", "initial_size", "processes",
               "auto_extend_size_threshold", "auto_extend_size_increment",
               "auto_extend_size_limit", "snapshot_retention"},
    "metrics": {"port", "path", "processes", "https"},
    "vm": {"size", "memory", "memory_mb", "cpus", "cpu_kind", "gpus", "gpu_kind",
           "processes"},
}
ENUMS = {
    ("deploy", "strategy"): {"rolling", "immediate", "canary", "bluegreen"},
    ("services", "protocol"): {"tcp", "udp"},
    ("services", "auto_stop_machines"): {"off", "stop", "suspend", True, False},
    ("services.concurrency", "type"): {"connections", "requests"},
    ("services.ports", "handlers"): {"http", "tls", "proxy_proto", "pg_tls", "edge_http"},
}


def seconds(text):
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"(\d+)(ms|s|m)", str(text))
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2)
    return n / 1000 if unit == "ms" else n * (60 if unit == "m" else 1)


def main(path):
    problems = []
    try:
        with open(path, "rb") as f:
            conf = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as err:
        print(f"{path}: {err}")
        return 1

    def walk(table, where):
        items = table if isinstance(table, list) else [table]
        for item in items:
            if not isinstance(item, dict):
                problems.append(f"[{where}] must be a table")
                continue
            for key, value in item.items():
                if key not in KEYS[where]:
                    problems.append(f"unknown key `{key}` in [{where or 'top level'}]")
                    continue
                name = f"{where}.{key}" if where else key
                if name in KEYS and key not in ("env", "args"):
                    walk(value, name)
                allowed = ENUMS.get((where, key))
                if allowed is not None:
                    for v in value if isinstance(value, list) else [value]:
                        if v not in allowed:
                            problems.append(f"[{where}] {key} = {v!r}: not one of {sorted(map(str, allowed))}")

    walk(conf, "")
    if conf.get("kill_signal") != "SIGTERM":
        problems.append("kill_signal must be SIGTERM: it starts agora's drain")
    drain = seconds(conf.get("env", {}).get("AGORA_DRAIN_PERIOD", "0s"))
    kill = seconds(conf.get("kill_timeout", 5))
    if drain is None or kill is None or kill <= drain:
        problems.append(f"kill_timeout ({conf.get('kill_timeout')}) must exceed AGORA_DRAIN_PERIOD")
    deploy = conf.get("deploy", {})
    if deploy.get("strategy") != "rolling":
        problems.append("[deploy] strategy must be rolling")
    if not str(deploy.get("release_command", "")).startswith("migrate"):
        problems.append("[deploy] release_command must run `migrate up` before the rollout")
    mounts = conf.get("mounts", [])
    mounts = mounts if isinstance(mounts, list) else [mounts]
    if not any(m.get("destination") == "/data" for m in mounts):
        problems.append("no [[mounts]] on /data (the image's AGORA_DATA)")
    services = {s.get("internal_port"): s for s in conf.get("services", [])}
    for port in (7070, 7080):
        if port not in services:
            problems.append(f"no [[services]] for internal_port {port}")
    http = services.get(7080, {})
    if not any(c.get("path") == "/readyz" for c in http.get("http_checks", [])):
        problems.append("the 7080 service needs an http_check on /readyz")
    for p in problems:
        print(f"{path}: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "fly.toml"))
