#!/usr/bin/env python3
"""Writes a docker-archive (the `docker save` format) of a busybox image from a root filesystem.

    busybox_image.py ROOTFS OUTPUT.tar [REPO:TAG]

No registry is reachable from the tests, so the image is built locally from the test bed's
busybox-static root filesystem and loaded with `docker load`.
"""
import hashlib
import io
import json
import sys
import tarfile


def layer_tar(rootfs):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(rootfs, arcname=".", filter=lambda info: normalized(info))
    return buf.getvalue()


def normalized(info):
    # Reproducible layer: same bytes, same image ID on every run.
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    return info


def add_file(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def main():
    rootfs, output = sys.argv[1], sys.argv[2]
    repo_tag = sys.argv[3] if len(sys.argv) > 3 else "busybox:lcd-e2e"
    layer = layer_tar(rootfs)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"],
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "busybox_image.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_name = diff_id[len("sha256:"):] + "/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [repo_tag], "Layers": [layer_name]}]
    with tarfile.open(output, mode="w") as tar:
        add_file(tar, config_name, config_bytes)
        add_file(tar, layer_name, layer)
        add_file(tar, "manifest.json", json.dumps(manifest).encode())


if __name__ == "__main__":
    main()
