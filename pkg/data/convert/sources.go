package convert

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// fileSet is a folder or a zip archive of input files.
type fileSet interface {
	// Names lists the files (slash-separated paths relative to the root),
	// sorted.
	Names() []string
	// Read returns a file's content; safe for concurrent use.
	Read(name string) ([]byte, error)
	// Path names the file or record for error messages.
	Path(name string) string
	// Close releases the set.
	Close() error
}

// openFileSet opens a folder (recursively) or a .zip file.
func openFileSet(p string) (fileSet, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		d := &dirSet{root: p}
		err := filepath.WalkDir(p, func(path string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if de.Type().IsRegular() {
				rel, _ := filepath.Rel(p, path)
				d.names = append(d.names, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(d.names)
		return d, nil
	}
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	z := &zipSet{path: p, zr: zr, files: map[string]*zip.File{}}
	for _, f := range zr.File {
		if f.FileInfo().Mode().IsRegular() {
			z.files[f.Name] = f
			z.names = append(z.names, f.Name)
		}
	}
	sort.Strings(z.names)
	return z, nil
}

type dirSet struct {
	root  string
	names []string
}

func (d *dirSet) Names() []string { return d.names }
func (d *dirSet) Read(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(d.root, filepath.FromSlash(name)))
}
func (d *dirSet) Path(name string) string { return filepath.Join(d.root, filepath.FromSlash(name)) }
func (d *dirSet) Close() error            { return nil }

type zipSet struct {
	path  string
	zr    *zip.ReadCloser
	files map[string]*zip.File
	names []string
}

func (z *zipSet) Names() []string { return z.names }
func (z *zipSet) Read(name string) ([]byte, error) {
	f, ok := z.files[name]
	if !ok {
		return nil, fmt.Errorf("%s: not in archive", z.Path(name))
	}
	r, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", z.Path(name), err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", z.Path(name), err)
	}
	return b, nil
}
func (z *zipSet) Path(name string) string { return z.path + ":" + name }
func (z *zipSet) Close() error            { return z.zr.Close() }

// isImageName reports whether name has an image extension nvae-prep decodes.
func isImageName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif":
		return true
	}
	return false
}
