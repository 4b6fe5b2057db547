/**
 * Whether a file holding a secret key (an HMAC secret, an Ed25519 private key) is open to other local users.
 *
 * Whoever can read an HMAC key can forge records that verify; whoever can write a key file can swap the key. The
 * check is the one OpenSSH makes of a private key (`UNPROTECTED PRIVATE KEY FILE`: a group or other read or write
 * bit, sshd(8), ssh-keygen(1)), except where the reader itself needs those bits. It warns and does not refuse: a
 * Kubernetes secret volume is 0644 unless `defaultMode` says otherwise, and a refused key would stop an audited
 * service.
 *
 * The fix offered depends on how the reader gets at the file: chmod 600 takes the key away from a reader that
 * reads it through its group or the others' bits (a non-root container reading a root-owned Kubernetes secret:
 * kubelet also adds 0440 to secret files when the pod has an fsGroup, kubernetes/kubernetes#57923), so such a
 * reader is not told to do that, and group read through its own group is not warned of.
 *
 * POSIX mode bits only. On Windows they say nothing about access (ACLs do), so nothing is said there.
 */

/** The stat fields read, as `fs.Stats` or `fs.BigIntStats` give them. */
export interface KeyFileStat {
  readonly mode: number | bigint;
  readonly uid: number | bigint;
  readonly gid: number | bigint;
}

/** Who reads the file: effective user and groups (none on Windows), and the platform. */
export interface KeyFileReader {
  readonly uid: number | undefined;
  readonly gids: readonly number[];
  readonly platform: string;
}

/** This process, asked at each check: a process may change its user (`process.setuid`) after start-up. */
export function thisProcess(): KeyFileReader {
  const uid = process.geteuid?.();
  const gids = [process.getegid?.(), ...(process.getgroups?.() ?? [])].filter((g): g is number => g !== undefined);
  return { uid, gids, platform: process.platform };
}

const READ = 4;
const WRITE = 2;
const access = (bits: number): string => (bits & READ ? (bits & WRITE ? 'read and write' : 'read') : bits & WRITE ? 'write' : '');

/**
 * The problem with `st` as a secret key file, one clause without the file's name ("its group and other users can
 * read it (mode 0644): chmod 600 the file …"), or undefined when no one but its owner (and the reader) has access.
 */
export function keyFileModeProblem(st: KeyFileStat, reader: KeyFileReader = thisProcess()): string | undefined {
  if (reader.platform === 'win32' || reader.uid === undefined) return undefined;
  const mode = Number(st.mode) & 0o777;
  const owns = reader.uid === Number(st.uid) || reader.uid === 0;
  const viaGroup = !owns && reader.gids.includes(Number(st.gid));
  // Read through its own group is how this reader gets the key: only a group write is a problem then.
  const group = access((mode >> 3) & (viaGroup ? WRITE : READ | WRITE));
  const other = access(mode & (READ | WRITE));
  if (group === '' && other === '') return undefined;
  // Not both empty here, so equal means both have the same access.
  const who =
    group === other ? `its group and other users can ${group} it` : [group && `its group can ${group} it`, other && `other users can ${other} it`].filter(Boolean).join('; ');
  const octal = `0${mode.toString(8).padStart(3, '0')}`;
  let fix: string;
  if (owns) fix = 'chmod 600 the file (a Kubernetes secret volume: defaultMode 0400)';
  else if (viaGroup) fix = 'chmod 640 the file (a Kubernetes secret volume: fsGroup and defaultMode 0440)';
  else fix = "this process reads it through the other users' bits: give it this process's user or group (chown, chgrp), then chmod 600 or 640 (a Kubernetes secret volume: fsGroup and defaultMode 0440)";
  return `${who} (mode ${octal}): ${fix}`;
}
