#!/usr/bin/python3
"""A real Keystone (Debian python3-keystone) on 127.0.0.1 for the cloud tests.

Usage: KEYSTONE_PASSWORD=<admin password> keystone_server.py <work dir> <port> <compute endpoint URL>

Creates a throwaway config (SQLite database, fernet keys) in the work directory,
runs keystone-manage db_sync, fernet_setup, credential_setup and bootstrap (admin user,
project and role, the identity endpoint), registers the compute endpoint, then serves Keystone's public WSGI app on a free
loopback port with wsgiref, one request at a time (SQLite connections stay in one thread). Prints one JSON line on stdout when ready:
{"port": ..., "auth_url": ...}. Runs until killed.

Run with Debian's /usr/bin/python3 (the pyenv python3 on PATH cannot import keystone).
"""
import grp
import json
import os
import pwd
import subprocess
import sys
import wsgiref.simple_server

MANAGE = "import sys; from keystone.cmd import cli; cli.main(argv=sys.argv)"


def manage(conf, *args):
    r = subprocess.run([sys.executable, "-c", MANAGE, "--config-file", conf, *args],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        sys.stderr.write(r.stdout + r.stderr)
        raise SystemExit("keystone-manage %s failed (%s)" % (args[0], r.returncode))


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


def register_compute(url):
    """The compute service and its endpoints in the catalog, written before serving: SQLite
    under wsgiref keeps a write lock after the first write through the API, so the server
    only ever reads (fernet tokens need no writes)."""
    import uuid
    from keystone.common import provider_api
    catalog = provider_api.ProviderAPIs.catalog_api
    service_id = uuid.uuid4().hex
    catalog.create_service(service_id, {"id": service_id, "type": "compute", "name": "nova", "enabled": True})
    for iface in ("public", "internal", "admin"):
        endpoint_id = uuid.uuid4().hex
        catalog.create_endpoint(endpoint_id, {"id": endpoint_id, "service_id": service_id, "interface": iface,
                                              "url": url, "region_id": "RegionOne", "enabled": True})


def main():
    work = os.path.abspath(sys.argv[1])
    os.makedirs(work, exist_ok=True)
    port = int(sys.argv[2])
    password = os.environ["KEYSTONE_PASSWORD"]
    conf = os.path.join(work, "keystone.conf")
    keys = {d: os.path.join(work, d) for d in ("fernet-keys", "credential-keys", "receipt-keys")}
    for d in keys.values():
        os.makedirs(d, mode=0o700, exist_ok=True)
    with open(conf, "w") as f:
        f.write(f"""[DEFAULT]
log_file = {work}/keystone.log
[database]
connection = sqlite:///{work}/keystone.db
[token]
provider = fernet
expiration = 7200
[fernet_tokens]
key_repository = {keys['fernet-keys']}
[fernet_receipts]
key_repository = {keys['receipt-keys']}
[credential]
key_repository = {keys['credential-keys']}
""")
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    manage(conf, "db_sync")
    manage(conf, "fernet_setup", "--keystone-user", user, "--keystone-group", group)
    manage(conf, "credential_setup", "--keystone-user", user, "--keystone-group", group)
    url = f"http://127.0.0.1:{port}/v3"
    manage(conf, "bootstrap", "--bootstrap-password", password, "--bootstrap-admin-url", url,
           "--bootstrap-internal-url", url, "--bootstrap-public-url", url, "--bootstrap-region-id", "RegionOne")

    os.environ["OS_KEYSTONE_CONFIG_FILES"] = conf
    sys_args = sys.argv[1:]
    sys.argv = sys.argv[:1]  # oslo.config parses the command line too
    from keystone.server import wsgi as keystone_wsgi
    app = keystone_wsgi.initialize_public_application()
    register_compute(sys_args[2])
    server = wsgiref.simple_server.make_server("127.0.0.1", port, app, handler_class=QuietHandler)
    print(json.dumps({"port": port, "auth_url": url}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
