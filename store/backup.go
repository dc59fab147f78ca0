package store

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// dbFile is the SQLite file's name in the data folder and in a backup.
const dbFile = "playgate.db"

// Backup writes one archive (tar.gz) of the whole data folder to file: a
// consistent snapshot of the SQLite database taken with VACUUM INTO while
// the server keeps taking writes, the attachments and the generated JWT key.
// Every write committed before the backup began is in it.
func (s *Store) Backup(ctx context.Context, file string) (err error) {
	if s.dialect != SQLite {
		return errors.New("backup is for SQLite; use pg_dump for PostgreSQL (see the README)")
	}
	out, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create backup: %w", err)
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(file)
		}
	}()
	tmp, err := os.MkdirTemp(s.DataDir, ".backup-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	snapshot := filepath.Join(tmp, dbFile)
	// The writer connection: readers are query_only. VACUUM INTO reads in one
	// transaction, so the snapshot is consistent; the CLI runs it in its own process.
	if err := s.w.WithContext(ctx).Exec("VACUUM INTO ?", snapshot).Error; err != nil {
		return fmt.Errorf("snapshot the database: %w", err)
	}
	gz := gzip.NewWriter(out)
	tw := tar.NewWriter(gz)
	if err := addFile(tw, snapshot, dbFile); err != nil {
		return err
	}
	if err := addFile(tw, filepath.Join(s.DataDir, "jwt.key"), "jwt.key"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	root := filepath.Join(s.DataDir, "attachments")
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		rel, err := filepath.Rel(s.DataDir, p)
		if err != nil {
			return err
		}
		return addFile(tw, p, filepath.ToSlash(rel))
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("archive attachments: %w", err)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return out.Sync()
}

func addFile(tw *tar.Writer, src, name string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), ModTime: st.ModTime()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// Restore unpacks a backup made by Backup into dataDir, which must not hold
// a database yet.
func Restore(archive, dataDir string) error {
	if _, err := os.Stat(filepath.Join(dataDir, dbFile)); err == nil {
		return fmt.Errorf("%s already holds a database: restore into an empty data folder", dataDir)
	}
	in, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer in.Close()
	gz, err := gzip.NewReader(in)
	if err != nil {
		return fmt.Errorf("%s is not a Playgate backup: %w", archive, err)
	}
	tr := tar.NewReader(gz)
	sawDB := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read backup: %w", err)
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || path.IsAbs(name) || strings.HasPrefix(name, "..") ||
			!(name == dbFile || name == "jwt.key" || strings.HasPrefix(name, "attachments/")) {
			return fmt.Errorf("backup holds an unexpected entry %q", h.Name)
		}
		dst := filepath.Join(dataDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("restore %s: %w", name, err)
		}
		sawDB = sawDB || name == dbFile
	}
	if !sawDB {
		return errors.New("the backup holds no database")
	}
	return nil
}

// IntegrityCheck runs SQLite's integrity check and returns its verdict ("ok").
func (s *Store) IntegrityCheck(ctx context.Context) (string, error) {
	if s.dialect != SQLite {
		return "ok", nil
	}
	var verdict string
	err := s.r.WithContext(ctx).Raw("PRAGMA integrity_check").Scan(&verdict).Error
	return verdict, err
}
