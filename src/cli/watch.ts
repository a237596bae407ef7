import { watch, readdirSync, statSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

/** Folders never watched: dependencies, and dot-folders (.git, .data with a database, .rococo). */
export function ignoredFolder(name: string): boolean {
  return name === 'node_modules' || name.startsWith('.');
}

/**
 * Watches folders with `fs.watch`, one watcher a folder: whole trees (new subfolders included)
 * or single folders. Not fs.watch's `recursive`, which cannot leave node_modules out (and its
 * tens of thousands of folders would exhaust inotify); not chokidar, a dependency for this.
 */
export class Watcher {
  private readonly watchers = new Map<string, { watcher: FSWatcher; tree: boolean }>();
  private closed = false;

  /** `onChange` gets the path of each changed file that `relevant` accepts. */
  constructor(
    private readonly onChange: (file: string) => void,
    private readonly relevant: (file: string) => boolean,
  ) {}

  /** Watches `dir` and the folders under it, but node_modules and dot-folders. */
  addTree(dir: string): void {
    if (this.watchers.get(dir)?.tree === true || this.closed) return;
    this.watchDir(dir, true);
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries)
      if (e.isDirectory() && !ignoredFolder(e.name)) this.addTree(join(dir, e.name));
  }

  /** Watches the files of `dir`, not its subfolders. */
  addDir(dir: string): void {
    if (!this.watchers.has(dir) && !this.closed) this.watchDir(dir, false);
  }

  /** How many folders are watched. */
  get size(): number {
    return this.watchers.size;
  }

  close(): void {
    this.closed = true;
    for (const { watcher } of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private watchDir(dir: string, tree: boolean): void {
    const old = this.watchers.get(dir);
    if (old !== undefined) {
      old.tree ||= tree;
      return;
    }
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null) return;
        const path = join(dir, name.toString());
        if (this.watchers.get(dir)?.tree && !ignoredFolder(name.toString()) && isDirectory(path))
          this.addTree(path);
        if (this.relevant(path)) this.onChange(path);
      });
    } catch {
      return; // gone, or not a folder
    }
    watcher.on('error', () => {
      watcher.close(); // the folder was removed
      this.watchers.delete(dir);
    });
    this.watchers.set(dir, { watcher, tree });
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
