package checkpoint

import (
	"cmp"
	"encoding/binary"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"hesscope/tensor"
)

// Write writes f to w in the safetensors format, byte for byte as the
// reference implementation does (see the package documentation). It fails,
// writing nothing, if a tensor is nil, has a dtype other than F32, F64 and
// I64, a negative dimension, or not as many elements as its shape needs, or
// if a name or metadata string is not valid UTF-8 or a tensor is named
// "__metadata__".
func Write(w io.Writer, f *File) error {
	header, order, err := prepare(f, "")
	if err != nil {
		return err
	}
	if err := writeBody(w, f, header, order); err != nil {
		return wrapf("", err, "writing")
	}
	return nil
}

// WriteFile writes f to path atomically (see WriteFileAtomic): a reader of
// path sees the old file or the complete new one, never a part. Its errors
// begin "checkpoint: <path>: ".
func WriteFile(path string, f *File) error {
	header, order, err := prepare(f, path)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, func(w io.Writer) error {
		if err := writeBody(w, f, header, order); err != nil {
			return wrapf(path, err, "writing")
		}
		return nil
	})
}

// prepare checks f and returns its padded JSON header and the tensor names
// in data order.
func prepare(f *File, path string) (header []byte, order []string, err error) {
	order = make([]string, 0, len(f.Tensors))
	for name, t := range f.Tensors {
		switch {
		case name == metadataKey:
			return nil, nil, errorf(path, "a tensor may not be named %q", metadataKey)
		case !utf8.ValidString(name):
			return nil, nil, errorf(path, "tensor name %q is not valid UTF-8", name)
		case t == nil:
			return nil, nil, errorf(path, "tensor %q is nil", name)
		case t.DType.Size() == 0:
			return nil, nil, errorf(path, "tensor %q: cannot write dtype %q (supported: F32, F64, I64)", name, t.DType)
		}
		n, ok := numel(t.Shape)
		if !ok {
			return nil, nil, errorf(path, "tensor %q: invalid shape %s", name, tensor.ShapeString(t.Shape))
		}
		if n != t.Len() {
			return nil, nil, errorf(path, "tensor %q: %d %s elements do not fit shape %s", name, t.Len(), t.DType, tensor.ShapeString(t.Shape))
		}
		order = append(order, name)
	}
	for k, v := range f.Metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, errorf(path, "metadata %q: %q is not valid UTF-8", k, v)
		}
	}
	slices.SortFunc(order, func(a, b string) int {
		return cmp.Or(cmp.Compare(f.Tensors[a].DType.rank(), f.Tensors[b].DType.rank()), strings.Compare(a, b))
	})

	// The header, as serde_json writes it for the reference implementation.
	h := []byte{'{'}
	if len(f.Metadata) > 0 {
		h = appendString(h, metadataKey)
		h = append(h, ":{"...)
		keys := make([]string, 0, len(f.Metadata))
		for k := range f.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				h = append(h, ',')
			}
			h = appendString(h, k)
			h = append(h, ':')
			h = appendString(h, f.Metadata[k])
		}
		h = append(h, '}')
	}
	offset := 0
	for i, name := range order {
		t := f.Tensors[name]
		if i > 0 || len(f.Metadata) > 0 {
			h = append(h, ',')
		}
		h = appendString(h, name)
		h = append(h, `:{"dtype":`...)
		h = appendString(h, string(t.DType))
		h = append(h, `,"shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				h = append(h, ',')
			}
			h = strconv.AppendInt(h, int64(d), 10)
		}
		nb, ok := nbytes(t.DType, t.Shape)
		if !ok || offset > maxInt-nb {
			return nil, nil, errorf(path, "tensor %q: data too large", name)
		}
		h = append(h, `],"data_offsets":[`...)
		h = strconv.AppendInt(h, int64(offset), 10)
		h = append(h, ',')
		offset += nb
		h = strconv.AppendInt(h, int64(offset), 10)
		h = append(h, "]}"...)
	}
	h = append(h, '}')
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	if len(h) > MaxHeaderSize {
		return nil, nil, errorf(path, "header of %d bytes exceeds the limit of %d", len(h), MaxHeaderSize)
	}
	return h, order, nil
}

// appendString appends s as a JSON string escaped as serde_json escapes it:
// quote, backslash and control characters only.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\b':
			dst = append(dst, `\b`...)
		case c == '\f':
			dst = append(dst, `\f`...)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c == '\t':
			dst = append(dst, `\t`...)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// writeBody writes the header length, the header and the tensor data.
func writeBody(w io.Writer, f *File, header []byte, order []string) error {
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	for _, name := range order {
		var err error
		switch t := f.Tensors[name]; t.DType {
		case F32:
			err = writeElems(w, buf, t.F32, 4, func(b []byte, v float32) []byte {
				return binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
			})
		case F64:
			err = writeElems(w, buf, t.F64, 8, func(b []byte, v float64) []byte {
				return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
			})
		case I64:
			err = writeElems(w, buf, t.I64, 8, func(b []byte, v int64) []byte {
				return binary.LittleEndian.AppendUint64(b, uint64(v))
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeElems writes data, size bytes an element, encoding it with appendLE
// into buf, chunk by chunk.
func writeElems[E any](w io.Writer, buf []byte, data []E, size int, appendLE func([]byte, E) []byte) error {
	per := cap(buf) / size
	for len(data) > 0 {
		chunk := data[:min(per, len(data))]
		data = data[len(chunk):]
		b := buf[:0]
		for _, v := range chunk {
			b = appendLE(b, v)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
