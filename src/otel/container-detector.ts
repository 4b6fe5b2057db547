/**
 * `container.id` of the container this process runs in, when it can be read: the 64-hex-digit id in
 * /proc/self/cgroup (cgroup v1, `…/docker/<id>`, `…/cri-containerd-<id>.scope`) or, on cgroup v2, in the
 * container runtime's bind mounts listed in /proc/self/mountinfo (`…/containers/<id>/hostname`). The same
 * sources as OpenTelemetry's contrib container detector, without its dependency. Outside a container, or when
 * the files cannot be read, it detects nothing.
 */
import { readFileSync } from 'node:fs';

const ID = /[0-9a-f]{64}/;

/** The id in cgroup or mountinfo text, if any. Exported for its test. */
export function containerIdFrom(cgroup: string, mountinfo: string): string | undefined {
  for (const line of cgroup.split('\n')) {
    const m = ID.exec(line.slice(line.lastIndexOf('/')));
    if (m !== null) return m[0];
  }
  for (const line of mountinfo.split('\n')) {
    if (!line.includes('/containers/') || !/\/(hostname|hosts|resolv\.conf)\s/.test(line)) continue;
    const m = /\/containers\/([0-9a-f]{64})\//.exec(line);
    if (m !== null) return m[1];
  }
  return undefined;
}

const read = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

/** A `ResourceDetector` of `@opentelemetry/resources` (both lines share the interface). */
export const containerDetector = {
  detect(): { attributes?: Record<string, string> } {
    const id = containerIdFrom(read('/proc/self/cgroup'), read('/proc/self/mountinfo'));
    return id === undefined ? {} : { attributes: { 'container.id': id } };
  },
};
