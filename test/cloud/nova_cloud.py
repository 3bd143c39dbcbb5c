#!/usr/bin/python3
"""Nova's compute API over real HTTP on 127.0.0.1, behind a real Keystone, for `npm run test:cloud`.

Adapted from ../shared/nova-oracle (nova_http_example.py, nova_domain_xml.py and hostcaps.py,
copied here as hostcaps.py and api-paste.ini.in) so that the project's tests need nothing
outside the repository. It runs Nova's functional-test stack from Debian's python3-nova 26.2.2
(Zed): the real nova-api, placement, scheduler (with NUMATopologyFilter), conductor and two
nova-compute services, "compute1" and "compute2", each with the real LibvirtDriver on
fakelibvirt and the NUMA host of the JSON on stdin (cells, cpu_dedicated_set). Live migration
runs Nova's whole code path; only libvirt's migrateToURI3 is stubbed the way Nova's own
functional tests stub it (the domain is defined on the destination and the job completes).

Authentication is Keystone's (test/cloud/keystone_server.py): the API pipeline is Nova's
`keystone` pipeline with keystonemiddleware's auth_token, which validates every token against
Keystone. Keystone's catalog lists this API's URL (keystone_server.py registers it; the port
is the `port` of the JSON), so a client needs only the Keystone URL and the admin password.

Environment: KEYSTONE_URL (.../v3), KEYSTONE_PASSWORD (the admin password). The first line of
stdin is the JSON {"work", "port", "host"}; prints one JSON line on stdout when ready:
{"compute_url", "image_id", "computes"}. Runs until stdin closes.

Run with Debian's /usr/bin/python3.
"""
import json
import logging
import os
import sys
import unittest

import fixtures
from lxml import etree

HERE = os.path.dirname(os.path.abspath(__file__))
REQ = json.loads(sys.stdin.readline())  # one line: the rest of stdin keeps the server up

from nova.tests.fixtures import libvirt as fakelibvirt  # noqa: E402
from nova.tests.functional import integrated_helpers  # noqa: E402
from nova.tests.functional.libvirt import base  # noqa: E402
from nova.virt.libvirt import host as libvirt_host  # noqa: E402

import hostcaps  # noqa: E402

import eventlet  # noqa: E402
import eventlet.wsgi  # noqa: E402
from eventlet.green import select  # noqa: E402
from nova.api import wsgi as nova_api_wsgi  # noqa: E402

COMPUTES = ['compute1', 'compute2']

# The functional fixtures stub Keystone out (OSAPIFixture._stub_keystone); keep the real ones to
# put back for the API served over HTTP.
import keystonemiddleware.auth_token  # noqa: E402
from nova.api import auth as nova_auth  # noqa: E402
REAL_AUTH_TOKEN = keystonemiddleware.auth_token.filter_factory
REAL_CREATE_CONTEXT = nova_auth.NovaKeystoneContext._create_context


def host_info(host):
    cells = host['cells']
    ncpus = len(hostcaps.online_cpus(host))
    mem_mb = sum(c['memory_mb'] for c in cells)
    info = fakelibvirt.HostInfo(cpu_nodes=len(cells), cpu_sockets=1, cpu_cores=ncpus // len(cells),
                                cpu_threads=1, kB_mem=mem_mb * 1024)
    info.numa_topology = hostcaps.caps_topology(host)
    return info


def paste_ini(work):
    """Nova's api-paste.ini, with auth_token's settings pointing at the test Keystone."""
    with open(os.path.join(HERE, 'api-paste.ini.in')) as f:
        text = f.read()
    url = os.environ['KEYSTONE_URL']
    root = url.rsplit('/v3', 1)[0]
    auth = '\n'.join([
        'www_authenticate_uri = %s' % root, 'auth_url = %s' % root, 'auth_type = password',
        'username = admin', 'password = %s' % os.environ['KEYSTONE_PASSWORD'], 'project_name = admin',
        'user_domain_name = Default', 'project_domain_name = Default', 'delay_auth_decision = false',
        'service_token_roles_required = false', 'interface = public',
    ])
    marker = 'paste.filter_factory = keystonemiddleware.auth_token:filter_factory'
    assert marker in text
    text = text.replace(marker, marker + '\n' + auth)
    path = os.path.join(work, 'api-paste.ini')
    with open(path, 'w') as f:
        f.write(text)
    return path


class NovaCloud(base.LibvirtMigrationMixin, base.ServersTestBase, integrated_helpers.InstanceHelperMixin):
    ADDITIONAL_FILTERS = ['NUMATopologyFilter']
    microversion = 'latest'
    ADMIN_API = True

    def setUp(self):
        self.work = REQ['work']
        self.flags(api_paste_config=paste_ini(self.work), group='wsgi')
        super().setUp()
        self.flags(auth_strategy='keystone', group='api')
        self.flags(sysinfo_serial='none', group='libvirt')
        libvirt_host.Host.get_online_cpus.return_value = hostcaps.online_cpus(REQ['host'])
        # The live-migration monitor saves fakelibvirt's (all-zero) memory statistics on the
        # migration record while the operation thread, which shares its request context, is
        # still inside a database read in this single-process stack: enginefacade refuses that
        # ("Can't upgrade a READER transaction to a WRITER"). Only those statistics are skipped;
        # the migration record's status and the rest of the live migration are Nova's own.
        self.useFixture(fixtures.MonkeyPatch('nova.virt.libvirt.migration.save_stats',
                                             lambda *args, **kwargs: None))
        # As Nova's NUMA live-migration tests do: clean up the source after the migration.
        self.useFixture(fixtures.MonkeyPatch(
            'nova.compute.manager.ComputeManager._live_migration_cleanup_flags',
            lambda *args, **kwargs: (True, True)))

    def _get_connection(self, host_info=None, pci_info=None, mdev_info=None, vdpa_info=None,
                        libvirt_version=None, qemu_version=None, hostname=None):
        return fakelibvirt.Connection('qemu:///system', version=fakelibvirt.FAKE_LIBVIRT_VERSION,
                                      hv_version=fakelibvirt.FAKE_QEMU_VERSION, host_info=host_info,
                                      hostname=hostname)

    def _migrate_stub(self, *args, **kwargs):
        # What Nova's own functional tests do (LibvirtMigrationMixin, LiveMigrationWithLockBase):
        # define the domain on the destination, then complete the source's migration job. Here
        # for any source and destination. The patched method is called as
        # migrateToURI3(dconnuri, params=..., flags=...), without the domain.
        params = kwargs.get('params') or next(a for a in args if isinstance(a, dict))
        uri = kwargs.get('dconnuri') or next((a for a in args if isinstance(a, str)), '')
        uuid = etree.fromstring(params['destination_xml']).find('./uuid').text
        source = None
        for name, compute in self.computes.items():
            try:
                dom = compute.driver._host.get_connection().lookupByUUIDString(uuid)
                source = name
                break
            except fakelibvirt.libvirtError:
                continue
        others = [h for h in self.computes if h != source]
        target = next((h for h in others if h in uri), others[0])
        self.computes[target].driver._host.get_connection().createXML(
            params['destination_xml'], 'fake-createXML-doesnt-care-about-flags')
        dom.complete_job()

    def _log_errors(self):
        """Nova's errors to stderr as they happen (the test fixtures only capture them)."""
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.ERROR)
        handler.setFormatter(logging.Formatter('%(levelname)s %(name)s: %(message)s'))
        logging.getLogger().addHandler(handler)
        self.addCleanup(logging.getLogger().removeHandler, handler)

    def test_serve(self):
        self._log_errors()
        host = REQ['host']
        self.flags(cpu_dedicated_set=host.get('cpu_dedicated_set'), cpu_shared_set=host.get('cpu_shared_set'),
                   group='compute')
        for name in COMPUTES:
            self.start_compute(hostname=name, host_info=host_info(host))
        # From here on the API is Keystone's: auth_token validates each token with Keystone,
        # and NovaKeystoneContext builds the request context from what Keystone returned.
        self.useFixture(fixtures.MonkeyPatch('keystonemiddleware.auth_token.filter_factory', REAL_AUTH_TOKEN))
        self.useFixture(fixtures.MonkeyPatch('nova.api.auth.NovaKeystoneContext._create_context',
                                             REAL_CREATE_CONTEXT))
        app = nova_api_wsgi.Loader().load_app('osapi_compute')
        sock = eventlet.listen(('127.0.0.1', REQ['port']))
        server = eventlet.spawn(eventlet.wsgi.server, sock, app, log_output=False)
        url = 'http://127.0.0.1:%d/v2.1' % REQ['port']
        print(json.dumps({'compute_url': url, 'image_id': self.glance.image1['id'], 'computes': COMPUTES}),
              flush=True)
        # Serve until the test closes stdin; green select lets the API and the services run.
        # Every few seconds the computes run update_available_resource, as nova-compute does
        # (every 60 s by default): the NUMA usage of the hosts follows migrations and deletions.
        ticks = 0
        while True:
            ready, _, _ = select.select([sys.stdin], [], [], 1.0)
            if ready and sys.stdin.readline() == '':
                break
            ticks += 1
            if ticks % 3 == 0:
                self._run_periodics()
        server.kill()


if __name__ == '__main__':
    result = unittest.TextTestRunner(verbosity=0, stream=sys.stderr).run(
        unittest.TestLoader().loadTestsFromName('test_serve', NovaCloud))
    sys.exit(0 if result.wasSuccessful() else 1)
