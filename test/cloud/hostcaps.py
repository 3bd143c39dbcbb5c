"""The host JSON as libvirt would report it: a capabilities <topology>.

Copied unchanged from ../shared/nova-oracle/hostcaps.py (the Nova oracle), so that
nova_cloud.py needs nothing outside this repository.

Shared by nova_oracle.py and nova_domain_xml.py so both feed Nova the same
host. CPUs are listed in ascending order per cell (as libvirt does); a CPU
with no 'siblings' entry is its own only sibling (no SMT). Small (4k) pages
are the cell memory minus the huge pages, as the kernel reports them.
"""
from nova.virt.libvirt import config as vconfig


def online_cpus(host):
    return {cpu for c in host['cells'] for cpu in c['cpus']}


def caps_topology(host):
    topo = vconfig.LibvirtConfigCapsNUMATopology()
    for c in host['cells']:
        cell = vconfig.LibvirtConfigCapsNUMACell()
        cell.id = c['id']
        cell.memory = c['memory_mb'] * 1024  # kB
        sibs = {cpu: set(s) for s in c.get('siblings') or [] for cpu in s}
        for core, cpu_id in enumerate(sorted(c['cpus'])):
            cpu = vconfig.LibvirtConfigCapsNUMACPU()
            cpu.id, cpu.socket_id, cpu.core_id = cpu_id, c.get('socket', 0), core
            cpu.siblings = sibs.get(cpu_id, {cpu_id})
            cell.cpus.append(cpu)
        pages = [(4, 0), (2048, c.get('hugepages_2m', 0)),
                 (1048576, c.get('hugepages_1g', 0))]
        huge_kb = sum(size * count for size, count in pages)
        pages[0] = (4, (cell.memory - huge_kb) // 4)
        for size, count in pages:
            mp = vconfig.LibvirtConfigCapsNUMAPages()
            mp.size, mp.total = size, count
            cell.mempages.append(mp)
        topo.cells.append(cell)
    # round-trip through XML, exactly as nova.virt.libvirt.host parses it
    parsed = vconfig.LibvirtConfigCapsNUMATopology()
    parsed.parse_str(topo.to_xml())
    return parsed
