/** The files a verification reads: paths expanded into regular files, links, FIFOs and devices left out. */
import { looksLikeKeyMaterial, shownInput } from '../integrity/keys.js';
import type { BigIntStats, Dirent } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileIdentity, fileKind, NotRegularFileError } from './safe-read.js';
import { errorText } from '../core/errors.js';

export type SkipListener = (path: string, reason: string) => void;

/** A file to read; `follow` when it was named by the caller, `id` its device and inode, `size` when listed. */
export interface InputFile {
  path: string;
  follow: boolean;
  id: string;
  size: number;
}

/**
 * A file found in an input directory that is gone when it is opened: retention deleted a segment of a live journal
 * directory after it was listed. Skipped (said through the skip listener), not an I/O error: its records were
 * acknowledged, and the retention.log line written before the deletion, read after the inputs, accounts for them.
 * A file the caller named is never skipped so.
 */
export const vanished = (e: unknown, input: { follow: boolean }): boolean => !input.follow && (e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
export const VANISHED = 'deleted after it was listed (retention of a live journal directory); not read';

/** A path that cannot be read: a usage or I/O error, not an integrity finding. */
export class VerifyInputError extends Error {
  override name = 'VerifyInputError';
}

const INPUT_EXTENSIONS = ['.jsonl', '.json'];
/** Where the journal sets aside torn or corrupt files; they were already reported when set aside. */
const QUARANTINE_DIR = 'quarantine';

const byName = (a: Dirent, b: Dirent): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * lstat of a directory entry; undefined when it cannot be reached by its name: gone since readdir, or a name that
 * is not valid UTF-8 (readdir gives it with U+FFFD in place of its bytes, a path that does not exist), which is
 * said (`onSkip`) rather than failing the whole run.
 */
async function entryStat(path: string, name: string, onSkip: SkipListener): Promise<BigIntStats | undefined> {
  try {
    return await lstat(path, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (name.includes('\uFFFD')) onSkip(path, 'its name is not valid UTF-8 (rename it to read it)');
    return undefined;
  }
}

/**
 * Expands paths into the files to read. A path named by the caller is followed if it is a symbolic link (the
 * user chose it, like `find -H`); it must then be a regular file (taken whatever its extension) or a
 * directory. A directory is walked recursively for regular `*.jsonl`/`*.json` files, entries sorted by name
 * so rotated sets are read in order; inside it, symbolic links (to files or directories) are never
 * followed, and FIFOs, sockets and devices are never opened: both are skipped and passed to `onSkip`. The
 * same file reached twice (same device and inode) is read once, else every record would look duplicated.
 */
export async function listInputs(paths: readonly string[], onSkip: SkipListener): Promise<InputFile[]> {
  const out: InputFile[] = [];
  const seen = new Set<string>();
  const seenDirs = new Set<string>();
  const walk = async (dir: string, id: string): Promise<void> => {
    if (seenDirs.has(id)) return; // named twice, or a bind-mount loop
    seenDirs.add(id);
    // Dirent types come from lstat (d_type), so a link is seen as a link, never as what it points to.
    const entries = (await readdir(dir, { withFileTypes: true })).sort(byName);
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isSymbolicLink()) {
        onSkip(p, 'symbolic link inside an input directory, not followed');
        continue;
      }
      if (e.isDirectory()) {
        if (e.name === QUARANTINE_DIR) continue;
        const st = await entryStat(p, e.name, onSkip);
        if (st?.isDirectory() === true) await walk(p, fileIdentity(st));
        continue;
      }
      if (!INPUT_EXTENSIONS.some((x) => e.name.endsWith(x))) continue;
      if (!e.isFile()) {
        onSkip(p, `${fileKind(e)}, not a regular file`);
        continue;
      }
      const st = await entryStat(p, e.name, onSkip);
      if (st === undefined || !st.isFile()) continue; // gone or replaced since readdir; O_NOFOLLOW would refuse it anyway
      const fid = fileIdentity(st);
      if (seen.has(fid)) continue;
      seen.add(fid);
      out.push({ path: p, follow: false, id: fid, size: Number(st.size) });
    }
  };
  for (const p of paths) {
    try {
      const st = await stat(p, { bigint: true });
      const fid = fileIdentity(st);
      if (st.isDirectory()) await walk(p, fid);
      else if (!st.isFile()) throw new NotRegularFileError(`is a ${fileKind(st)}, not a regular file or directory`);
      else if (!seen.has(fid)) {
        seen.add(fid);
        out.push({ path: p, follow: true, id: fid, size: Number(st.size) });
      }
    } catch (e) {
      // A key pasted where a journal's path belongs (found in review: echoed on stderr and on the --report page).
      if (looksLikeKeyMaterial(p)) throw new VerifyInputError(`${shownInput(p)}: ${(e as NodeJS.ErrnoException).code ?? 'cannot be read'}`);
      throw new VerifyInputError(`${p}: ${errorText(e)}`, { cause: e });
    }
  }
  return out;
}

/** The files `verifyFiles` would read for `paths` (see VerifyOptions.onSkip for what is left out). */
export async function listInputFiles(paths: readonly string[]): Promise<string[]> {
  return (await listInputs(paths, () => undefined)).map((f) => f.path);
}
