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
//   - at the header of a commit frame (it holds the size of the database
//     after the commit, which no other frame does), and its page right
//     after: a commit is in the file, where other connections read it,
//     before SQLite publishes it in the shared wal-index, as it was
//     before; an error fails the commit, as it did before;
//   - before a write that does not follow the buffered ones, and when the
//     buffer is full;
//   - before any other operation on the file: read, sync, size, truncate,
//     file control, close;
//   - when its connection gives the write lock back (see links).
//
// Nothing else changes: the database file, the wal-index, locks and every
// other file go straight to the unix VFS, and a frame that is not yet in
// the file is one SQLite has not published (a transaction in progress).
// The commit-frame test follows SQLite's log format
// (https://sqlite.org/fileformat2.html#walformat). TestLogWritesInRuns
// checks every commit is readable by another connection the moment it
// returns, and that runs are written; TestLogSurvivesCrash and
// TestLogRollbackBesideAnotherWriter the two other ways a buffered frame
// could be lost or land in the wrong place.

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
	db      uintptr // the connection's database file, 0: the log is not buffered
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
// buffer in front of it, and a main database file the hook that tells its
// connection's log when the connection gives the write lock back.
func walOpen(tls *libc.TLS, pVfs, zName, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	open := *(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{baseOpen}))
	switch {
	case flags&sqlite3.SQLITE_OPEN_MAIN_DB != 0:
		rc := open(tls, baseVFS, zName, pFile, flags, pOutFlags)
		if rc == sqlite3.SQLITE_OK && zName != 0 {
			hookDB(pFile, zName)
		}
		return rc
	case flags&sqlite3.SQLITE_OPEN_WAL != 0:
		f := (*walFile)(unsafe.Add(nil, pFile))
		*f = walFile{}
		if rc := open(tls, baseVFS, zName, pFile+walFileHeaderSize, flags, pOutFlags); rc != sqlite3.SQLITE_OK {
			return rc
		}
		f.methods = uintptr(unsafe.Pointer(&walMethods))
		f.db = links.logOpened(sqlite3.Xsqlite3_filename_database(tls, zName), pFile)
		return sqlite3.SQLITE_OK
	default:
		return open(tls, baseVFS, zName, pFile, flags, pOutFlags)
	}
}

// A log must never hold frames once its connection gives the write lock
// back: what it holds then belongs to a write rolled back, and written out
// later it would land on frames another connection has committed since.
// So each main database file opened through the VFS gets the unix VFS's
// methods with xShmLock hooked, and links to its connection's log (SQLite
// names the log after the database, sqlite3_filename_database); releasing
// the write lock writes out what the log still holds. A log whose database
// file could not be linked is not buffered.
var (
	links = walLinks{byName: map[uintptr]uintptr{}, names: map[uintptr]uintptr{}, logs: map[uintptr]uintptr{}}
	// dbMethods are the unix VFS's methods for database files, hooked. A
	// global: SQLite's code reads it through pointers, which must not
	// point into the Go heap.
	dbMethods sqlite3.Tsqlite3_io_methods
)

type walLinks struct {
	sync.Mutex
	byName map[uintptr]uintptr // database files by their name (the pointer SQLite passed)
	names  map[uintptr]uintptr // the name of each database file in byName
	logs   map[uintptr]uintptr // the open log of each linked database file
	orig   uintptr             // the unix VFS's methods for database files
}

// walWriteLock is the wal-index lock of the log's writer (WAL_WRITE_LOCK).
const walWriteLock = 0

func hookDB(pFile, zName uintptr) {
	links.Lock()
	defer links.Unlock()
	m := *(*uintptr)(unsafe.Add(nil, pFile))
	if links.orig == 0 {
		links.orig = m
		dbMethods = *(*sqlite3.Tsqlite3_io_methods)(unsafe.Add(nil, m))
		*(*func(*libc.TLS, uintptr, int32, int32, int32) int32)(unsafe.Pointer(&dbMethods.FxShmLock)) = dbShmLock
		*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&dbMethods.FxClose)) = dbClose
	}
	if m != links.orig || dbMethods.FiVersion < 2 {
		return // another kind of file: its log stays unbuffered
	}
	*(*uintptr)(unsafe.Add(nil, pFile)) = uintptr(unsafe.Pointer(&dbMethods))
	links.byName[zName], links.names[pFile] = pFile, zName
}

// logOpened links the log pFile to the database file named zDb, returning
// that file, or 0 if there is none to link to.
func (l *walLinks) logOpened(zDb, pFile uintptr) uintptr {
	l.Lock()
	defer l.Unlock()
	db := l.byName[zDb]
	if db == 0 || l.logs[db] != 0 {
		return 0
	}
	l.logs[db] = pFile
	return db
}

func dbShmLock(tls *libc.TLS, pFile uintptr, offset, n, flags int32) int32 {
	if offset == walWriteLock && n == 1 && flags == sqlite3.SQLITE_SHM_UNLOCK|sqlite3.SQLITE_SHM_EXCLUSIVE {
		links.Lock()
		log := links.logs[pFile]
		links.Unlock()
		if log != 0 {
			flush(tls, log) // a failure leaves frames no one will read
		}
	}
	m := (*sqlite3.Tsqlite3_io_methods)(unsafe.Add(nil, links.orig))
	return (*(*func(*libc.TLS, uintptr, int32, int32, int32) int32)(unsafe.Pointer(&struct{ uintptr }{m.FxShmLock})))(tls, pFile, offset, n, flags)
}

func dbClose(tls *libc.TLS, pFile uintptr) int32 {
	links.Lock()
	delete(links.byName, links.names[pFile])
	delete(links.names, pFile)
	delete(links.logs, pFile)
	links.Unlock()
	m := (*sqlite3.Tsqlite3_io_methods)(unsafe.Add(nil, links.orig))
	return (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{m.FxClose})))(tls, pFile)
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
	f.n = 0
	walFlushes.Add(1)
	return realWrite(tls, pFile, f.buf, int32(n), off)
}

func walWrite(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	walWrites.Add(1)
	f := (*walFile)(unsafe.Add(nil, pFile))
	// The page after a commit frame's header completes the commit.
	completes := f.commit != 0
	f.commit = 0
	if f.n > 0 && (iOfst != f.start+f.n || f.n+int64(iAmt) > walBufSize) {
		if rc := flush(tls, pFile); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	if f.db != 0 && f.buf == 0 {
		f.buf = libc.Xmalloc(tls, walBufSize)
	}
	if completes || f.buf == 0 || int64(iAmt) > walBufSize {
		// Straight to the file: the buffer was written out with the header.
		walFlushes.Add(1)
		return realWrite(tls, pFile, zBuf, iAmt, iOfst)
	}
	if f.n == 0 {
		f.start = iOfst
	}
	libc.Xmemcpy(tls, f.buf+uintptr(f.n), zBuf, libc.Tsize_t(iAmt))
	f.n += int64(iAmt)
	// A commit frame's header: bytes 4-7 are the database's size in pages
	// after the commit, 0 in every other frame. It goes to the file at once
	// with what precedes it, and its page right after: SQLite may also
	// rewrite the header alone, after the page (walRewriteChecksums).
	if iAmt == walFrameHeaderLen && binary.BigEndian.Uint32(unsafe.Slice((*byte)(unsafe.Add(nil, zBuf)), walFrameHeaderLen)[4:8]) != 0 {
		rc := flush(tls, pFile)
		f.commit = 1
		return rc
	}
	return sqlite3.SQLITE_OK
}

func walClose(tls *libc.TLS, pFile uintptr) int32 {
	rc := flush(tls, pFile)
	f := (*walFile)(unsafe.Add(nil, pFile))
	if f.db != 0 {
		links.Lock()
		if links.logs[f.db] == pFile {
			delete(links.logs, f.db)
		}
		links.Unlock()
	}
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
