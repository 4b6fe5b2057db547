import { describe, expect, it } from 'vitest';
import { containerIdFrom } from '../../src/otel/container-detector.js';

const ID = 'a'.repeat(12) + '0123456789abcdef'.repeat(3) + 'b'.repeat(4);

describe('container.id from /proc/self/cgroup and /proc/self/mountinfo', () => {
  it.each([
    ['cgroup v1, docker', `12:pids:/docker/${ID}\n11:memory:/docker/${ID}\n`, '', ID],
    ['cgroup v1, containerd scope', `0::/system.slice/cri-containerd-${ID}.scope\n`, '', ID],
    ['cgroup v1, kubepods', `5:cpu:/kubepods/besteffort/pod1234/${ID}\n`, '', ID],
    ['cgroup v2, runtime mounts', '0::/\n', `712 700 0:64 /var/lib/docker/containers/${ID}/hostname /etc/hostname rw,relatime - ext4 /dev/sda1 rw\n`, ID],
    ['not in a container (systemd host)', '0::/init.scope\n1:name=systemd:/\n', '25 1 8:1 / / rw - ext4 /dev/sda1 rw\n', undefined],
    ['a 64-hex string in a parent path only', `0::/${ID}/x\n`, '', undefined],
    ['unreadable files', '', '', undefined],
  ])('%s', (_name, cgroup, mountinfo, expected) => {
    expect(containerIdFrom(cgroup, mountinfo)).toBe(expected);
  });
});
