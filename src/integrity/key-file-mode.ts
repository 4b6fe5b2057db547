/**
 * Whether a file holding a secret key (an HMAC secret, an Ed25519 private key) is open to other local users.
 *
 * Whoever can read an HMAC key can forge records that verify; whoever can write a key file can swap the key the
 * producer signs with. The check is the one OpenSSH makes of a private key (`UNPROTECTED PRIVATE KEY FILE`: any
 * group or other permission bit, sshd(8) / ssh-keygen(1)), plus the owner. It warns and does not refuse: a Kubernetes
 * secret volume is 0644 unless `defaultMode` says otherwise, and a refused key would stop an audited service.
 *
 * POSIX mode bits and owner only. On Windows they say nothing about access (ACLs do), so nothing is said there.
 */

/** The stat fields read, as `fs.Stats` or `fs.BigIntStats` give them. */
export interface KeyFileStat {
  readonly mode: number | bigint;
  readonly uid: number | bigint;
}

/** What the read and write bits of one class (group, other) give: `(mode >> shift) & 0o6`. */
const ACCESS: Readonly<Record<number, string>> = { 0: '', 2: 'write', 4: 'read', 6: 'read and write' };

/** Who reads the file: the process's user (`process.getuid()`, none on Windows) and platform. */
export interface KeyFileReader {
  readonly uid: number | undefined;
  readonly platform: string;
}

const THIS_PROCESS: KeyFileReader = { uid: process.getuid?.(), platform: process.platform };

/**
 * The problem with `st` as a secret key file, one clause without the file's name ("its group and other users can
 * read it (mode 0644): chmod 600 the file"), or undefined when only its owner has access. No uid, or platform
 * win32, skips the check.
 */
export function keyFileModeProblem(st: KeyFileStat, reader: KeyFileReader = THIS_PROCESS): string | undefined {
  const ownUid = reader.uid;
  if (reader.platform === 'win32' || ownUid === undefined) return undefined;
  const mode = Number(st.mode) & 0o777;
  const uid = Number(st.uid);
  const problems: string[] = [];
  // Only read and write matter for a key: an execute bit alone gives no access to its bytes.
  const group = ACCESS[(mode >> 3) & 0o6]!;
  const other = ACCESS[mode & 0o6]!;
  if (group !== '' && group === other) problems.push(`its group and other users can ${group} it`);
  else {
    if (group !== '') problems.push(`its group can ${group} it`);
    if (other !== '') problems.push(`other users can ${other} it`);
  }
  const fixes: string[] = [];
  if (problems.length > 0) {
    problems[problems.length - 1] += ` (mode 0${mode.toString(8).padStart(3, '0')})`;
    fixes.push('chmod 600 the file (a Kubernetes secret volume: defaultMode 0400)');
  }
  // root may own it (a mounted secret); anyone else who owns it can change its mode and its key.
  if (uid !== ownUid && uid !== 0) {
    problems.push(`it is owned by uid ${uid}, neither this process's user (uid ${ownUid}) nor root`);
    fixes.push(`chown ${ownUid} the file`);
  }
  if (problems.length === 0) return undefined;
  return `${problems.join('; ')}: ${fixes.join(', and ')}`;
}
