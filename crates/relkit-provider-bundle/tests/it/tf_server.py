#!/usr/bin/env python3
"""Loopback HTTPS server for the Terraform tests.

    tf_server.py static   CERT KEY ROOT            serve ROOT as files (a network mirror)
    tf_server.py registry CERT KEY ROOT CONFIG     speak the provider registry protocol

In registry mode ROOT holds the release assets of one provider version
(zips, _manifest.json, _SHA256SUMS, _SHA256SUMS.sig); CONFIG is a JSON file
{"namespace", "name", "version", "protocols", "key_id", "public_key"}. The
`shasum` of each download is read from the served SHA256SUMS, like a real
registry that publishes what the release holds. Prints the port, then serves
until killed.
"""
import http.server
import json
import os
import ssl
import sys
import urllib.parse

mode, cert, key, root = sys.argv[1:5]
config = {}
if mode == "registry":
    with open(sys.argv[5]) as f:
        config = json.load(f)


def registry_files():
    name, version = config["name"], config["version"]
    prefix = f"terraform-provider-{name}_{version}"
    sums = {}
    with open(os.path.join(root, f"{prefix}_SHA256SUMS")) as f:
        for line in f:
            digest, file = line.rstrip("\n").split("  ", 1)
            sums[file] = digest
    platforms = []
    for file in sorted(sums):
        if file.startswith(prefix + "_") and file.endswith(".zip"):
            os_name, arch = file[len(prefix) + 1 : -4].split("_", 1)
            platforms.append((os_name, arch, file))
    return prefix, sums, platforms


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=root, **kwargs)

    def log_message(self, fmt, *args):
        sys.stderr.write("tf_server: " + (fmt % args) + "\n")

    def send_json(self, obj, status=200):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if mode != "registry":
            return super().do_GET()
        path = urllib.parse.urlparse(self.path).path
        base = f"https://{self.headers['Host']}"
        if path == "/.well-known/terraform.json":
            return self.send_json({"providers.v1": "/v1/providers/"})
        api = f"/v1/providers/{config['namespace']}/{config['name']}/"
        if path.startswith("/files/"):
            self.path = path[len("/files") :]
            return super().do_GET()
        if not path.startswith(api):
            return self.send_json({"errors": ["not found"]}, 404)
        rest = path[len(api) :].strip("/").split("/")
        prefix, sums, platforms = registry_files()
        if rest == ["versions"]:
            return self.send_json(
                {
                    "versions": [
                        {
                            "version": config["version"],
                            "protocols": config["protocols"],
                            "platforms": [{"os": o, "arch": a} for o, a, _ in platforms],
                        }
                    ]
                }
            )
        if len(rest) == 4 and rest[0] == config["version"] and rest[1] == "download":
            for o, a, file in platforms:
                if (o, a) == (rest[2], rest[3]):
                    return self.send_json(
                        {
                            "protocols": config["protocols"],
                            "os": o,
                            "arch": a,
                            "filename": file,
                            "download_url": f"{base}/files/{file}",
                            "shasums_url": f"{base}/files/{prefix}_SHA256SUMS",
                            "shasums_signature_url": f"{base}/files/{prefix}_SHA256SUMS.sig",
                            "shasum": sums[file],
                            "signing_keys": {
                                "gpg_public_keys": [
                                    {
                                        "key_id": config["key_id"],
                                        "ascii_armor": config["public_key"],
                                    }
                                ]
                            },
                        }
                    )
        return self.send_json({"errors": ["not found"]}, 404)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
