package store

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The write-ahead log, written in runs.
//
// SQLite writes every page of a commit to the log with two system calls:
// the frame's 24-byte header, then the page. On the virtual machines
// Playgate is measured on a system call costs 1-2.5 µs, and those writes
// were 14 % of the server's CPU when filing bugs, all of it on the writer
// goroutine, through which every write passes. The "playgate" VFS wraps
// the default one (unix) and, for log files only, gathers writes that
// follow each other in a buffer and writes them with one call:
//
//   - right after the page of a commit frame (its header holds the size of
//     the database after the commit, which no other frame does): a commit
//     is in the file, where other connections read it, before SQLite
//     publishes it in the shared wal-index, as it was before; an error
//     fails the commit, as it did before;
//   - before a write that does not follow the buffered ones, and when the
//     buffer is full;
//   - before any other operation on the file: read, sync, size, truncate,
//     file control, close.
//
// Nothing else changes: the database file, the wal-index, locks and every
// other file go straight to the unix VFS, and a frame that is not yet in
// the file is one SQLite has not published (a transaction in progress,
// or one rolled back). walFileHeaderSize and the commit-frame test follow
// SQLite's log format (https://sqlite.org/fileformat2.html#walformat);
// TestLogWritesInRuns checks every commit is readable by another
// connection the moment it returns, and that runs are written.

const (
	walVFSName = "playgate"
	// Bytes a log file gathers at most: the unix VFS writes at most 128 KiB
	// less one byte with one call (seekAndWriteFd masks the length with
	// 0x1ffff), about 30 frames of 4 KiB pages.
	walBufSize        = 128<<10 - 1
	walFrameHeaderLen = 24
)

// walFile is the layout, in the library's memory, of a log file opened
// through the VFS: the sqlite3_file base, the buffer, then the unix VFS's
// own file.
type walFile struct {
	methods uintptr // sqlite3_file.pMethods: &walMethods
	buf     uintptr // walBufSize bytes of the library's memory, or 0
	start   int64   // offset in the file of buf's first byte
	n       int64   // bytes buffered
	commit  int64   // 1: the last write was a commit frame's header
}

const walFileHeaderSize = unsafe.Sizeof(walFile{})

var (
	baseVFS    uintptr // the unix VFS
	baseOpen   uintptr // its xOpen
	walMethods sqlite3.Tsqlite3_io_methods
	// xWrite calls on log files, and the writes they made to the files.
	walWrites, walFlushes atomic.Int64
)

// registerWALVFS registers the VFS once and returns its name, or "" when
// SQLite has no default VFS to wrap (the database then opens without it).
var registerWALVFS = sync.OnceValue(func() string {
	tls := libc.NewTLS() // the VFS lives as long as the process
	baseVFS = sqlite3.Xsqlite3_vfs_find(tls, 0)
	if baseVFS == 0 {
		return ""
	}
	base := (*sqlite3.Tsqlite3_vfs)(unsafe.Add(nil, baseVFS))
	p := libc.Xmalloc(tls, libc.Tsize_t(unsafe.Sizeof(sqlite3.Tsqlite3_vfs{})))
	name, err := libc.CString(walVFSName)
	if p == 0 || err != nil {
		return ""
	}
	v := (*sqlite3.Tsqlite3_vfs)(unsafe.Add(nil, p))
	*v = *base
	v.FpNext = 0
	v.FzName = name
	v.FszOsFile = base.FszOsFile + int32(walFileHeaderSize)
	baseOpen = base.FxOpen
	*(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&v.FxOpen)) = walOpen

	walMethods.FiVersion = 3
	*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&walMethods.FxClose)) = walClose
	*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&walMethods.FxRead)) = walRead
	*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&walMethods.FxWrite)) = walWrite
	*(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&walMethods.FxTruncate)) = walTruncate
	*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&walMethods.FxSync)) = walSync
	*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&walMethods.FxFileSize)) = walFileSize
	*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&walMethods.FxLock)) = walLock
	*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&walMethods.FxUnlock)) = walUnlock
	*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&walMethods.FxCheckReservedLock)) = walCheckReservedLock
	*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&walMethods.FxFileControl)) = walFileControl
	*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&walMethods.FxSectorSize)) = walSectorSize
	*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&walMethods.FxDeviceCharacteristics)) = walDeviceCharacteristics
	*(*func(*libc.TLS, uintptr, int32, int32, int32, uintptr) int32)(unsafe.Pointer(&walMethods.FxShmMap)) = walShmMap
	*(*func(*libc.TLS, uintptr, int32, int32, int32) int32)(unsafe.Pointer(&walMethods.FxShmLock)) = walShmLock
	*(*func(*libc.TLS, uintptr))(unsafe.Pointer(&walMethods.FxShmBarrier)) = walShmBarrier
	*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&walMethods.FxShmUnmap)) = walShmUnmap
	*(*func(*libc.TLS, uintptr, int64, int32, uintptr) int32)(unsafe.Pointer(&walMethods.FxFetch)) = walFetch
	*(*func(*libc.TLS, uintptr, int64, uintptr) int32)(unsafe.Pointer(&walMethods.FxUnfetch)) = walUnfetch

	if sqlite3.Xsqlite3_vfs_register(tls, p, 0) != sqlite3.SQLITE_OK {
		return ""
	}
	return walVFSName
})

// walOpen opens every file through the unix VFS; a log file gets the
// buffer in front of it.
func walOpen(tls *libc.TLS, pVfs, zName, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	open := *(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{baseOpen}))
	if flags&sqlite3.SQLITE_OPEN_WAL == 0 {
		return open(tls, baseVFS, zName, pFile, flags, pOutFlags)
	}
	f := (*walFile)(unsafe.Add(nil, pFile))
	*f = walFile{}
	if rc := open(tls, baseVFS, zName, pFile+walFileHeaderSize, flags, pOutFlags); rc != sqlite3.SQLITE_OK {
		return rc
	}
	f.methods = uintptr(unsafe.Pointer(&walMethods))
	return sqlite3.SQLITE_OK
}

// inner returns the unix VFS's file behind pFile, and its methods.
func inner(pFile uintptr) (uintptr, *sqlite3.Tsqlite3_io_methods) {
	r := pFile + walFileHeaderSize
	return r, (*sqlite3.Tsqlite3_io_methods)(unsafe.Add(nil, *(*uintptr)(unsafe.Add(nil, r))))
}

func realWrite(tls *libc.TLS, pFile, buf uintptr, n int32, off int64) int32 {
	r, m := inner(pFile)
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{m.FxWrite})))(tls, r, buf, n, off)
}

// flush writes what pFile holds, with one call.
func flush(tls *libc.TLS, pFile uintptr) int32 {
	f := (*walFile)(unsafe.Add(nil, pFile))
	if f.n == 0 {
		return sqlite3.SQLITE_OK
	}
	n, off := f.n, f.start
	f.n, f.commit = 0, 0
	walFlushes.Add(1)
	return realWrite(tls, pFile, f.buf, int32(n), off)
}

func walWrite(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	walWrites.Add(1)
	f := (*walFile)(unsafe.Add(nil, pFile))
	if f.n > 0 && (iOfst != f.start+f.n || f.n+int64(iAmt) > walBufSize) {
		if rc := flush(tls, pFile); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	if f.buf == 0 {
		f.buf = libc.Xmalloc(tls, walBufSize)
	}
	if f.buf == 0 || int64(iAmt) > walBufSize {
		return realWrite(tls, pFile, zBuf, iAmt, iOfst)
	}
	if f.n == 0 {
		f.start = iOfst
	}
	libc.Xmemcpy(tls, f.buf+uintptr(f.n), zBuf, libc.Tsize_t(iAmt))
	f.n += int64(iAmt)
	if f.commit != 0 { // the page of a commit frame: the commit is whole
		return flush(tls, pFile)
	}
	if iAmt == walFrameHeaderLen {
		// A frame header: bytes 4-7 are the database's size in pages after
		// a commit, 0 in every other frame.
		h := unsafe.Slice((*byte)(unsafe.Add(nil, zBuf)), walFrameHeaderLen)
		if binary.BigEndian.Uint32(h[4:8]) != 0 {
			f.commit = 1
		}
	}
	return sqlite3.SQLITE_OK
}

func walClose(tls *libc.TLS, pFile uintptr) int32 {
	rc := flush(tls, pFile)
	f := (*walFile)(unsafe.Add(nil, pFile))
	if f.buf != 0 {
		libc.Xfree(tls, f.buf)
		f.buf = 0
	}
	r, m := inner(pFile)
	if rc2 := (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{m.FxClose})))(tls, r); rc == sqlite3.SQLITE_OK {
		rc = rc2
	}
	return rc
}

func walRead(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	if rc := flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	r, m := inner(pFile)
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{m.FxRead})))(tls, r, zBuf, iAmt, iOfst)
}

func walTruncate(tls *libc.TLS, pFile uintptr, size int64) int32 {
	if rc := flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	r, m := inner(pFile)
	return (*(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&struct{ uintptr }{m.FxTruncate})))(tls, r, size)
}

func walSync(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	if rc := flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	r, m := inner(pFile)
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{m.FxSync})))(tls, r, flags)
}

func walFileSize(tls *libc.TLS, pFile, pSize uintptr) int32 {
	if rc := flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	r, m := inner(pFile)
	return (*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{m.FxFileSize})))(tls, r, pSize)
}

func walFileControl(tls *libc.TLS, pFile uintptr, op int32, pArg uintptr) int32 {
	if rc := flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	r, m := inner(pFile)
	return (*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{m.FxFileControl})))(tls, r, op, pArg)
}

// The rest only forward: locks and shared memory are the database file's,
// and SQLite never maps a log file.

func walLock(tls *libc.TLS, pFile uintptr, lock int32) int32 {
	r, m := inner(pFile)
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{m.FxLock})))(tls, r, lock)
}

func walUnlock(tls *libc.TLS, pFile uintptr, lock int32) int32 {
	r, m := inner(pFile)
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{m.FxUnlock})))(tls, r, lock)
}

func walCheckReservedLock(tls *libc.TLS, pFile, pResOut uintptr) int32 {
	r, m := inner(pFile)
	return (*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{m.FxCheckReservedLock})))(tls, r, pResOut)
}

func walSectorSize(tls *libc.TLS, pFile uintptr) int32 {
	r, m := inner(pFile)
	return (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{m.FxSectorSize})))(tls, r)
}

func walDeviceCharacteristics(tls *libc.TLS, pFile uintptr) int32 {
	r, m := inner(pFile)
	return (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{m.FxDeviceCharacteristics})))(tls, r)
}

func walShmMap(tls *libc.TLS, pFile uintptr, iPg, pgsz, bExtend int32, pp uintptr) int32 {
	return sqlite3.SQLITE_IOERR_SHMMAP
}

func walShmLock(tls *libc.TLS, pFile uintptr, offset, n, flags int32) int32 {
	return sqlite3.SQLITE_IOERR_SHMLOCK
}

func walShmBarrier(tls *libc.TLS, pFile uintptr) {}

func walShmUnmap(tls *libc.TLS, pFile uintptr, deleteFlag int32) int32 {
	return sqlite3.SQLITE_OK
}

func walFetch(tls *libc.TLS, pFile uintptr, iOfst int64, iAmt int32, pp uintptr) int32 {
	*(*uintptr)(unsafe.Add(nil, pp)) = 0 // no mapping: SQLite reads instead
	return sqlite3.SQLITE_OK
}

func walUnfetch(tls *libc.TLS, pFile uintptr, iOfst int64, p uintptr) int32 {
	return sqlite3.SQLITE_OK
}
