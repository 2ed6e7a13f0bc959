#!/usr/bin/python3
"""powercut-fs: a FUSE file system for tests that forgets, on a "power cut",
everything a real disk may forget (LazyFS-style).

    /usr/bin/python3 powercut-fs.py BACKING MOUNTPOINT

Files live in BACKING/root (the current, volatile state: reads see it), so
the file system is a passthrough; what is *durable* is tracked beside it:

- file data: a write is durable once that file (inode) is fsynced or
  fdatasynced. Before that, the bytes it overwrote in the durable range are
  kept (an undo record) and the durable size is remembered; a truncate keeps
  the bytes it cut the same way.
- names: a create, mkdir, rename or unlink in a directory is durable once
  that directory is fsynced (open the directory, fsync it). An unlinked or
  replaced file whose name is still durable somewhere is moved to
  BACKING/stash instead of being deleted, so a power cut can bring it back.

Control file MOUNTPOINT/.powercut (not listed by readdir):
- write "cut": power cut. Every file's data goes back to its last synced
  state, every directory to its last synced listing (unsynced creates,
  renames and unlinks are undone). Open files are closed. The write returns
  when the cut is done. Kill the processes using the mount first.
- write "freeze": the disk stops answering: every later operation blocks
  until the next "cut" (then fails with EIO, without effect), as a disk does
  in the moment before power is lost. Lets a test stop a writer exactly at
  its next disk access.
- write "freeze-at OP REGEX": freeze when operation OP (create, write,
  fsync, fsyncdir, rename, unlink, truncate, ...) is next called on a path
  matching REGEX (either path of a rename): that operation blocks.
- write "freeze-after OP REGEX": the same, but the operation is done first,
  then the disk freezes (e.g. after a rename, before the directory fsync).
- write "thaw": let blocked operations go on (no cut).
- read: JSON status (dirty files, unsynced directories, counters).

Not modelled: hard links (link(2) is refused), torn (partially persisted)
writes, metadata such as modes and times (always durable).
"""

import errno
import json
import logging
import os
import re
import shutil
import stat
import sys
import threading

from fusepy import FUSE, FuseOSError, Operations

CONTROL = '/.powercut'
log = logging.getLogger('powercut-fs')


class Handle:
    __slots__ = ('fd', 'ino', 'append', 'orphan', 'control')

    def __init__(self, fd, ino, append=False, control=False):
        self.fd = fd
        self.ino = ino
        self.append = append
        self.orphan = False
        self.control = control


def fh_of(fi):
    return None if fi is None else fi.fh


class PowerCutFS(Operations):
    use_ns = True

    def __init__(self, backing):
        self.backing = backing
        self.root = os.path.join(backing, 'root')
        self.stash = os.path.join(backing, 'stash')
        os.makedirs(self.root, exist_ok=True)
        shutil.rmtree(self.stash, ignore_errors=True)
        os.makedirs(self.stash)
        self.cond = threading.Condition(threading.RLock())
        self.frozen = False
        self.blocked = 0
        self.trigger = None
        self.gen = 0
        self.handles = {}
        self.next_fh = 1
        # ino -> [durable size, [(offset, old bytes), ...]] for files written since their last fsync
        self.dirty = {}
        # dir ino -> {name: ino}: the listing as of the directory's last fsync
        self.durable = {}
        # ino -> number of durable names pointing at it
        self.refs = {}
        # ino -> path in the stash (removed, but a durable name still points at it)
        self.stashed = {}
        self.counters = {'cuts': 0, 'fsyncs': 0, 'dirFsyncs': 0, 'writes': 0}
        self.rescan()

    # ------------------------------------------------------------ bookkeeping

    def real(self, path):
        return self.root + path

    def rescan(self):
        """Everything in the backing tree is durable (at start and after a cut)."""
        self.durable = {}
        self.refs = {}
        self.stashed = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            listing = {}
            for name in dirnames + filenames:
                ino = os.lstat(os.path.join(dirpath, name)).st_ino
                listing[name] = ino
                self.refs[ino] = self.refs.get(ino, 0) + 1
            self.durable[os.lstat(dirpath).st_ino] = listing

    def set_listing(self, dir_ino, listing):
        for ino in self.durable.get(dir_ino, {}).values():
            self.refs[ino] -= 1
        if listing is None:
            self.durable.pop(dir_ino, None)
        else:
            self.durable[dir_ino] = listing
            for ino in listing.values():
                self.refs[ino] = self.refs.get(ino, 0) + 1

    def forget(self, ino):
        """The inode is gone for good: drop what is tracked about it (its number may be reused)."""
        self.dirty.pop(ino, None)
        if ino in self.durable:
            self.set_listing(ino, None)
        for h in self.handles.values():
            if h.ino == ino:
                h.orphan = True

    def gc(self):
        """Delete stashed inodes no durable name points at any more."""
        changed = True
        while changed:
            changed = False
            for ino, p in list(self.stashed.items()):
                if self.refs.get(ino, 0) > 0:
                    continue
                del self.stashed[ino]
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    os.unlink(p)
                self.forget(ino)
                changed = True

    def remove_name(self, real, is_dir):
        """unlink/rmdir/replace: keep the inode in the stash while a durable name points at it."""
        st = os.lstat(real)
        ino = st.st_ino
        if is_dir and os.listdir(real):
            raise FuseOSError(errno.ENOTEMPTY)
        if self.refs.get(ino, 0) > 0:
            dest = os.path.join(self.stash, str(ino))
            os.rename(real, dest)
            self.stashed[ino] = dest
        else:
            (os.rmdir if is_dir else os.unlink)(real)
            self.forget(ino)

    def note_write(self, h, offset, length):
        if h.orphan:
            return
        d = self.dirty.get(h.ino)
        if d is None:
            d = self.dirty[h.ino] = [os.fstat(h.fd).st_size, []]
        durable_size = d[0]
        if offset < durable_size:
            end = min(offset + length, durable_size)
            old = os.pread(h.fd, end - offset, offset)
            if old:
                d[1].append((offset, old))

    def note_truncate(self, fd, ino, length):
        d = self.dirty.get(ino)
        cur = os.fstat(fd).st_size
        if d is None:
            d = self.dirty[ino] = [cur, []]
        durable_size = d[0]
        end = min(cur, durable_size)
        if length < end:
            d[1].append((length, os.pread(fd, end - length, length)))

    def pending_dirs(self):
        n = 0
        for dirpath, dirnames, filenames in os.walk(self.root):
            listing = {name: os.lstat(os.path.join(dirpath, name)).st_ino for name in dirnames + filenames}
            if listing != self.durable.get(os.lstat(dirpath).st_ino, {}):
                n += 1
        return n

    def status(self):
        return {
            'frozen': self.frozen,
            'blocked': self.blocked,
            'armed': self.trigger is not None,
            'dirtyFiles': len(self.dirty),
            'undoBytes': sum(len(b) for d in self.dirty.values() for _, b in d[1]),
            'unsyncedDirs': self.pending_dirs(),
            'stashed': len(self.stashed),
            **self.counters,
        }

    # ------------------------------------------------------------ power cut

    def cut(self):
        self.gen += 1
        self.frozen = False
        self.trigger = None
        for h in self.handles.values():
            if not h.control:
                os.close(h.fd)
        self.handles = {k: h for k, h in self.handles.items() if h.control}
        where = {}
        for base in (self.root, self.stash):
            where[os.lstat(base).st_ino] = base
            for dirpath, dirnames, filenames in os.walk(base):
                for name in dirnames + filenames:
                    p = os.path.join(dirpath, name)
                    where[os.lstat(p).st_ino] = p
        # File data back to its last synced state.
        for ino, (durable_size, undo) in self.dirty.items():
            p = where.get(ino)
            if p is None or not os.path.isfile(p):
                continue
            fd = os.open(p, os.O_RDWR)
            try:
                for offset, old in reversed(undo):
                    os.pwrite(fd, old, offset)
                os.ftruncate(fd, durable_size)
            finally:
                os.close(fd)
        # Names back to each directory's last synced listing: build the durable tree beside, swap it in.
        new = os.path.join(self.backing, 'new')
        old = os.path.join(self.backing, 'old')
        for p in (new, old):
            shutil.rmtree(p, ignore_errors=True)
        os.mkdir(new)
        os.chmod(new, stat.S_IMODE(os.lstat(self.root).st_mode))
        seen = set()

        def build(dir_ino, target):
            if dir_ino in seen:
                return
            seen.add(dir_ino)
            for name, ino in self.durable.get(dir_ino, {}).items():
                src = where.get(ino)
                if src is None:
                    log.error('power cut: durable inode %d (%s) not found', ino, name)
                    continue
                st = os.lstat(src)
                dst = os.path.join(target, name)
                if stat.S_ISDIR(st.st_mode):
                    os.mkdir(dst)
                    os.chmod(dst, stat.S_IMODE(st.st_mode))
                    build(ino, dst)
                elif stat.S_ISLNK(st.st_mode):
                    os.symlink(os.readlink(src), dst)
                else:
                    os.link(src, dst)

        build(os.lstat(self.root).st_ino, new)
        os.rename(self.root, old)
        os.rename(new, self.root)
        shutil.rmtree(old)
        shutil.rmtree(self.stash)
        os.mkdir(self.stash)
        self.dirty = {}
        self.rescan()
        self.counters['cuts'] += 1
        self.cond.notify_all()

    # ------------------------------------------------------------ operations

    def wait_thawed(self):
        gen = self.gen
        if self.frozen:
            self.blocked += 1
            try:
                while self.frozen and self.gen == gen:
                    self.cond.wait()
            finally:
                self.blocked -= 1
        if self.gen != gen:
            raise FuseOSError(errno.EIO)

    def triggered(self, op, args):
        t = self.trigger
        if t is None or t[1] != op:
            return None
        paths = [a for a in args[:2] if isinstance(a, str)]
        if not any(t[2].search(p) for p in paths):
            return None
        self.trigger = None
        return t[0]

    def __call__(self, op, *args):
        with self.cond:
            path = args[0] if args else None
            if path == CONTROL:
                return super().__call__(op, *args)
            self.wait_thawed()
            when = self.triggered(op, args)
            if when == 'at':
                self.frozen = True
                self.wait_thawed()
            result = super().__call__(op, *args)
            if when == 'after':
                self.frozen = True
            return result

    def getattr(self, path, fi=None):
        if path == CONTROL:
            return {'st_mode': stat.S_IFREG | 0o600, 'st_nlink': 1, 'st_size': 0}
        h = self.handles.get(fh_of(fi)) if fi is not None else None
        st = os.fstat(h.fd) if path is None and h is not None else os.lstat(self.real(path))
        d = {k: getattr(st, k) for k in ('st_mode', 'st_nlink', 'st_uid', 'st_gid', 'st_size', 'st_ino', 'st_blocks', 'st_rdev')}
        d.update(st_atime=st.st_atime_ns, st_mtime=st.st_mtime_ns, st_ctime=st.st_ctime_ns)
        return d

    def access(self, path, amode):
        if path != CONTROL and not os.access(self.real(path), amode):
            raise FuseOSError(errno.EACCES)

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(self.real(path))

    def opendir(self, path):
        return 0

    def releasedir(self, path, fh):
        return 0

    def fsyncdir(self, path, datasync, fh):
        real = self.real(path)
        listing = {name: os.lstat(os.path.join(real, name)).st_ino for name in os.listdir(real)}
        self.set_listing(os.lstat(real).st_ino, listing)
        self.gc()
        self.counters['dirFsyncs'] += 1

    def mkdir(self, path, mode):
        os.mkdir(self.real(path), mode)

    def rmdir(self, path):
        self.remove_name(self.real(path), True)

    def unlink(self, path):
        self.remove_name(self.real(path), False)

    def rename(self, old, new):
        ro, rn = self.real(old), self.real(new)
        so = os.lstat(ro)
        try:
            sn = os.lstat(rn)
        except FileNotFoundError:
            sn = None
        if sn is not None:
            if sn.st_ino == so.st_ino:
                return
            if stat.S_ISDIR(sn.st_mode) != stat.S_ISDIR(so.st_mode):
                raise FuseOSError(errno.EISDIR if stat.S_ISDIR(sn.st_mode) else errno.ENOTDIR)
            self.remove_name(rn, stat.S_ISDIR(sn.st_mode))
        os.rename(ro, rn)

    def link(self, target, source):
        log.error('link(2) is not supported by powercut-fs')
        raise FuseOSError(errno.EPERM)

    def symlink(self, target, source):
        os.symlink(source, self.real(target))

    def readlink(self, path):
        return os.readlink(self.real(path))

    def chmod(self, path, mode):
        os.chmod(self.real(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self.real(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self.real(path), ns=times)

    def statfs(self, path):
        sv = os.statvfs(self.root)
        return {k: getattr(sv, k) for k in ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}

    def add_handle(self, fi, h):
        fh = self.next_fh
        self.next_fh += 1
        self.handles[fh] = h
        fi.fh = fh
        fi.direct_io = 1
        return 0

    def create(self, path, mode, fi):
        flags = fi.flags
        base = flags & ~(os.O_ACCMODE | os.O_APPEND | os.O_TRUNC)
        fd = os.open(self.real(path), base | os.O_RDWR | os.O_CREAT, mode)
        return self.add_handle(fi, Handle(fd, os.fstat(fd).st_ino, append=bool(flags & os.O_APPEND)))

    def open(self, path, fi):
        if path == CONTROL:
            return self.add_handle(fi, Handle(-1, 0, control=True))
        flags = fi.flags
        real = self.real(path)
        base = flags & ~(os.O_ACCMODE | os.O_APPEND | os.O_TRUNC | os.O_CREAT | os.O_EXCL)
        fd = os.open(real, base | os.O_RDWR)
        h = Handle(fd, os.fstat(fd).st_ino, append=bool(flags & os.O_APPEND))
        if flags & os.O_TRUNC:
            self.note_truncate(fd, h.ino, 0)
            os.ftruncate(fd, 0)
        return self.add_handle(fi, h)

    def read(self, path, size, offset, fi):
        h = self.handles[fi.fh]
        if h.control:
            data = (json.dumps(self.status()) + '\n').encode()
            return data[offset:offset + size]
        return os.pread(h.fd, size, offset)

    def write(self, path, data, offset, fi):
        h = self.handles[fi.fh]
        if h.control:
            cmd = data.decode().strip()
            if cmd == 'cut':
                self.cut()
            elif cmd == 'freeze':
                self.frozen = True
            elif cmd.startswith('freeze-at ') or cmd.startswith('freeze-after '):
                when, op, regex = cmd.split(' ', 2)
                self.trigger = (when[len('freeze-'):], op, re.compile(regex))
            elif cmd == 'thaw':
                self.frozen = False
                self.cond.notify_all()
            else:
                raise FuseOSError(errno.EINVAL)
            return len(data)
        if h.append:
            offset = os.fstat(h.fd).st_size
        self.note_write(h, offset, len(data))
        self.counters['writes'] += 1
        return os.pwrite(h.fd, data, offset)

    def truncate(self, path, length, fi=None):
        if path == CONTROL:
            return
        h = self.handles.get(fh_of(fi)) if fi is not None else None
        if h is not None:
            if not h.orphan:
                self.note_truncate(h.fd, h.ino, length)
            os.ftruncate(h.fd, length)
            return
        fd = os.open(self.real(path), os.O_RDWR)
        try:
            self.note_truncate(fd, os.fstat(fd).st_ino, length)
            os.ftruncate(fd, length)
        finally:
            os.close(fd)

    def fsync(self, path, datasync, fi):
        h = self.handles.get(fi.fh)
        if h is not None and not h.control:
            self.dirty.pop(h.ino, None)
            self.counters['fsyncs'] += 1

    def flush(self, path, fi):
        return 0

    def release(self, path, fi):
        h = self.handles.pop(fi.fh, None)
        if h is not None and not h.control:
            os.close(h.fd)


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: powercut-fs.py BACKING MOUNTPOINT')
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    backing, mountpoint = sys.argv[1], sys.argv[2]
    FUSE(
        PowerCutFS(backing),
        mountpoint,
        raw_fi=True,
        foreground=True,
        nothreads=False,
        fsname='powercut',
        direct_io=True,
        hard_remove=True,
        attr_timeout=0,
        entry_timeout=0,
        negative_timeout=0,
    )


if __name__ == '__main__':
    main()
