package checkpoint

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"hesscope/tensor"
)

// MaxHeaderSize is the largest header Read accepts and Write produces, in
// bytes: the limit of the reference implementation.
const MaxHeaderSize = 100_000_000

// metadataKey is the header key of the free-form string map.
const metadataKey = "__metadata__"

// File is the content of a safetensors file: tensors by name, and the
// optional string-to-string metadata.
type File struct {
	Tensors  map[string]*Tensor
	Metadata map[string]string
}

// Names returns the tensor names of f, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for name := range f.Tensors {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// ReadFile reads the safetensors file at path. Its errors begin
// "checkpoint: <path>: ".
func ReadFile(path string) (*File, error) {
	fd, size, err := open(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	return read(fd, size, path)
}

// ReadNames reads only the header of the safetensors file at path: its
// tensor names, sorted, and its metadata. The header is checked as
// ReadFile checks it (against the file's size too), but no tensor data is
// read: what a file holds is known without loading it.
func ReadNames(path string) (names []string, metadata map[string]string, err error) {
	fd, size, err := open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fd.Close()
	entries, meta, _, err := readHeader(fd, size, path)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		names = append(names, e.name)
	}
	slices.Sort(names)
	return names, meta, nil
}

// open opens the regular file at path and returns its size. A path that
// is not a regular file is refused before it is opened: opening a fifo
// would block until something writes to it.
func open(path string) (*os.File, int64, error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, 0, errorf(path, "not a regular file")
	}
	fd, err := os.Open(path)
	if err != nil {
		return nil, 0, wrapf(path, unwrapPath(err), "open")
	}
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		return nil, 0, wrapf(path, unwrapPath(err), "stat")
	}
	if !fi.Mode().IsRegular() {
		fd.Close()
		return nil, 0, errorf(path, "not a regular file")
	}
	return fd, fi.Size(), nil
}

// unwrapPath drops the *os.PathError around err, whose path the message
// already names.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Read reads a safetensors file of size bytes from r. The size must be the
// true size of the content: Read checks the header against it before it
// allocates anything that the header asks for. Format violations yield a
// *FormatError, element types other than F32, F64 and I64 an
// *UnsupportedError.
func Read(r io.ReaderAt, size int64) (*File, error) {
	return read(r, size, "")
}

// entry is one tensor of a header, before its data is read.
type entry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end int
}

// readHeader reads and checks the header of a safetensors file of size
// bytes: its tensors in data order, which must tile the data exactly, its
// metadata and where the data start.
func readHeader(r io.ReaderAt, size int64, path string) (entries []entry, meta map[string]string, dataStart int64, err error) {
	bad := func(format string, args ...any) error {
		return &FormatError{Path: path, Msg: fmt.Sprintf(format, args...)}
	}
	if size < 8 {
		return nil, nil, 0, bad("%d bytes, too short for the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if err := readAt(r, lenBuf[:], 0); err != nil {
		return nil, nil, 0, wrapf(path, err, "reading header length")
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if size == 8 && n > 0 || size > 8 && (n > MaxHeaderSize || n > uint64(size-8)) {
		// A header length that cannot be right: say what the file is, if
		// its first bytes tell, rather than quote a meaningless length.
		var first [1]byte
		if size == 8 || readAt(r, first[:], 8) == nil && first[0] != '{' {
			return nil, nil, 0, bad(notSafetensors+"%s (it does not start with an 8-byte header length and a JSON header)", sniff(lenBuf[:]))
		}
	}
	if n > MaxHeaderSize {
		return nil, nil, 0, bad("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(size-8) {
		return nil, nil, 0, bad("header length %d exceeds the %d bytes that follow it (file truncated?)", n, size-8)
	}
	header := make([]byte, n)
	if err := readAt(r, header, 8); err != nil {
		return nil, nil, 0, wrapf(path, err, "reading header")
	}
	if entries, meta, err = parseHeader(header); err != nil {
		return nil, nil, 0, bad("%s", err)
	}
	dataStart = 8 + int64(n)
	dataSize := size - dataStart

	// Data order; ties (empty tensors) by name, so errors are deterministic.
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), strings.Compare(a.name, b.name))
	})
	for _, e := range entries {
		if e.dtype.Size() == 0 {
			if otherDTypes[e.dtype] {
				return nil, nil, 0, &UnsupportedError{Path: path, Tensor: e.name, DType: e.dtype}
			}
			return nil, nil, 0, bad("tensor %q: unknown dtype %q", e.name, e.dtype)
		}
	}
	pos := 0 // end of the data tiled so far
	for _, e := range entries {
		switch {
		case e.end < e.begin:
			return nil, nil, 0, bad("tensor %q: data_offsets [%d, %d] end before they begin", e.name, e.begin, e.end)
		case e.begin < pos:
			return nil, nil, 0, bad("tensor %q: data_offsets [%d, %d] overlap the previous tensor, which ends at %d", e.name, e.begin, e.end, pos)
		case e.begin > pos:
			return nil, nil, 0, bad("tensor %q: data_offsets [%d, %d] leave a gap after byte %d", e.name, e.begin, e.end, pos)
		}
		nb, ok := nbytes(e.dtype, e.shape)
		if !ok {
			return nil, nil, 0, bad("tensor %q: shape %s of %s overflows", e.name, tensor.ShapeString(e.shape), e.dtype)
		}
		if e.end-e.begin != nb {
			return nil, nil, 0, bad("tensor %q: data_offsets [%d, %d] hold %d bytes, but shape %s of %s needs %d",
				e.name, e.begin, e.end, e.end-e.begin, tensor.ShapeString(e.shape), e.dtype, nb)
		}
		pos = e.end
	}
	if int64(pos) > dataSize {
		return nil, nil, 0, bad("tensors need %d bytes of data, the file has %d (file truncated?)", pos, dataSize)
	}
	if int64(pos) < dataSize {
		return nil, nil, 0, bad("%d bytes of data after the last tensor", dataSize-int64(pos))
	}
	return entries, meta, dataStart, nil
}

func read(r io.ReaderAt, size int64, path string) (*File, error) {
	entries, meta, dataStart, err := readHeader(r, size, path)
	if err != nil {
		return nil, err
	}
	dataSize := size - dataStart

	// The header tiles the file exactly: allocations below add up to at
	// most the file size.
	f := &File{Tensors: make(map[string]*Tensor, len(entries)), Metadata: meta}
	buf := make([]byte, min(64<<10, dataSize))
	for _, e := range entries {
		t := &Tensor{DType: e.dtype, Shape: e.shape}
		n, _ := numel(e.shape)
		switch e.dtype {
		case F32:
			t.F32 = make([]float32, n)
		case F64:
			t.F64 = make([]float64, n)
		case I64:
			t.I64 = make([]int64, n)
		}
		if err := readData(r, dataStart+int64(e.begin), buf, t); err != nil {
			return nil, wrapf(path, err, "reading tensor %q", e.name)
		}
		f.Tensors[e.name] = t
	}
	return f, nil
}

// readAt fills buf from r at off; a short read is io.ErrUnexpectedEOF.
// sniff names the format of a file from its first 8 bytes, as
// ": a PNG image", or "".
func sniff(b []byte) string {
	for _, m := range []struct{ magic, name string }{
		{"\x89PNG", "a PNG image"},
		{"\xff\xd8\xff", "a JPEG image"},
		{"GIF8", "a GIF image"},
		{"PK\x03\x04", "a zip archive (a PyTorch .pt/.pth file? save it with safetensors.torch.save_file)"},
		{"\x80\x02", "a Python pickle (a PyTorch .pt/.pth file? save it with safetensors.torch.save_file)"},
		{"\x80\x04", "a Python pickle"},
		{"\x1f\x8b", "gzip-compressed"},
		{"\x89HDF", "an HDF5 file"},
		{"\x93NUMPY", "a NumPy .npy file"},
		{"\x00\x00\x08", "an IDX file (MNIST data?)"},
		{"{", "JSON text"},
	} {
		if strings.HasPrefix(string(b), m.magic) {
			return ": " + m.name
		}
	}
	return ""
}

func readAt(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readData fills the element slice of t from r at off, through buf, which
// holds at least one element, or all of t's data.
func readData(r io.ReaderAt, off int64, buf []byte, t *Tensor) error {
	size := t.DType.Size()
	for i, n := 0, t.Len(); i < n; {
		k := min(n-i, len(buf)/size)
		chunk := buf[:k*size]
		if err := readAt(r, chunk, off); err != nil {
			return err
		}
		off += int64(len(chunk))
		switch t.DType {
		case F32:
			for j := range t.F32[i : i+k] {
				t.F32[i+j] = math.Float32frombits(binary.LittleEndian.Uint32(chunk[4*j:]))
			}
		case F64:
			for j := range t.F64[i : i+k] {
				t.F64[i+j] = math.Float64frombits(binary.LittleEndian.Uint64(chunk[8*j:]))
			}
		case I64:
			for j := range t.I64[i : i+k] {
				t.I64[i+j] = int64(binary.LittleEndian.Uint64(chunk[8*j:]))
			}
		}
		i += k
	}
	return nil
}

// parseHeader parses the JSON header. Unlike encoding/json's Unmarshal into
// a map it rejects duplicate keys, and it reads integers exactly.
func parseHeader(header []byte) ([]entry, map[string]string, error) {
	if !utf8.Valid(header) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	// The reference reader accepts leading whitespace, though no writer
	// produces it.
	if trimmed := bytes.TrimLeft(header, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, errors.New("header does not begin with '{'")
	}
	p := &parser{dec: json.NewDecoder(bytes.NewReader(header))}
	p.dec.UseNumber()
	var (
		entries []entry
		meta    map[string]string
		seen    = map[string]bool{}
	)
	p.delim('{', "header")
	for p.err == nil && p.dec.More() {
		key := p.key("header")
		if p.err != nil {
			break
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("duplicate key %q in header", key)
		}
		seen[key] = true
		if key == metadataKey {
			meta = p.metadata()
		} else {
			entries = append(entries, p.entry(key))
		}
	}
	p.delim('}', "header")
	if p.err != nil {
		return nil, nil, p.err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, nil, errors.New("header: data after the JSON object")
	}
	return entries, meta, nil
}

// parser reads JSON tokens; its first error is sticky.
type parser struct {
	dec *json.Decoder
	err error
}

func (p *parser) token() json.Token {
	if p.err != nil {
		return nil
	}
	t, err := p.dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		p.err = fmt.Errorf("header is not valid JSON: %v", err)
	}
	return t
}

func (p *parser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf(format, args...)
	}
}

// delim reads the delimiter d of what.
func (p *parser) delim(d json.Delim, what string) {
	if t := p.token(); p.err == nil && t != d {
		p.fail("%s: found %s where %q was expected", what, describe(t), string(d))
	}
}

// key reads an object key.
func (p *parser) key(what string) string {
	t := p.token()
	s, ok := t.(string)
	if p.err == nil && !ok {
		p.fail("%s: found %s where a key was expected", what, describe(t)) // unreachable with encoding/json
	}
	return s
}

// metadata reads the value of "__metadata__": null or a map of strings.
func (p *parser) metadata() map[string]string {
	t := p.token()
	if p.err != nil || t == nil {
		return nil
	}
	if t != json.Delim('{') {
		p.fail("%s is %s, not an object", metadataKey, describe(t))
		return nil
	}
	m := map[string]string{}
	for p.err == nil && p.dec.More() {
		k := p.key(metadataKey)
		v := p.token()
		if p.err != nil {
			break
		}
		s, ok := v.(string)
		switch {
		case !ok:
			p.fail("%s[%q] is %s, not a string", metadataKey, k, describe(v))
		case hasKey(m, k):
			p.fail("%s: duplicate key %q", metadataKey, k)
		}
		m[k] = s
	}
	p.delim('}', metadataKey)
	return m
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// entry reads the header entry of tensor name.
func (p *parser) entry(name string) entry {
	e := entry{name: name}
	what := fmt.Sprintf("tensor %q", name)
	t := p.token()
	if p.err == nil && t != json.Delim('{') {
		p.fail("%s: header entry is %s, not an object", what, describe(t))
	}
	var offsets []int
	seen := map[string]bool{}
	for p.err == nil && p.dec.More() {
		k := p.key(what)
		if p.err != nil {
			break
		}
		if seen[k] {
			p.fail("%s: duplicate key %q", what, k)
			break
		}
		seen[k] = true
		switch k {
		case "dtype":
			v := p.token()
			s, ok := v.(string)
			if p.err == nil && !ok {
				p.fail("%s: dtype is %s, not a string", what, describe(v))
			}
			e.dtype = DType(s)
		case "shape":
			e.shape = p.ints(what + ": shape")
		case "data_offsets":
			offsets = p.ints(what + ": data_offsets")
			if p.err == nil && len(offsets) != 2 {
				p.fail("%s: data_offsets has %d numbers, not 2", what, len(offsets))
			}
		default: // ignored, as by the reference implementation
			var skip json.RawMessage
			if err := p.dec.Decode(&skip); err != nil && p.err == nil {
				p.err = fmt.Errorf("header is not valid JSON: %v", err)
			}
		}
	}
	p.delim('}', what)
	for _, k := range []string{"dtype", "shape", "data_offsets"} {
		if !seen[k] {
			p.fail("%s: no %s", what, k)
		}
	}
	if p.err == nil {
		e.begin, e.end = offsets[0], offsets[1]
	}
	return e
}

// ints reads an array of non-negative integers that fit an int.
func (p *parser) ints(what string) []int {
	t := p.token()
	if p.err == nil && t != json.Delim('[') {
		p.fail("%s is %s, not an array", what, describe(t))
	}
	v := []int{}
	for p.err == nil && p.dec.More() {
		t := p.token()
		num, ok := t.(json.Number)
		if p.err != nil {
			break
		}
		if !ok {
			p.fail("%s: found %s where an integer was expected", what, describe(t))
			break
		}
		s := string(num)
		i, err := strconv.ParseInt(s, 10, strconv.IntSize)
		switch {
		case strings.HasPrefix(s, "-"):
			p.fail("%s: %s is negative", what, s)
		case errors.Is(err, strconv.ErrRange):
			p.fail("%s: %s is too large", what, s)
		case err != nil:
			p.fail("%s: %s is not an integer", what, s)
		}
		v = append(v, int(i))
	}
	p.delim(']', what)
	return v
}

// describe names a JSON token for an error message.
func describe(t json.Token) string {
	switch t := t.(type) {
	case nil:
		return "null"
	case json.Delim:
		switch t {
		case '{', '}':
			return "an object"
		}
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "the number " + string(t)
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%v", t)
}
