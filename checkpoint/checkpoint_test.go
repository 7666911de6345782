package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// safetensors returns a file of the given header, padded with spaces to a
// multiple of 8 as writers do, and data.
func safetensors(header string, data []byte) []byte {
	for len(header)%8 != 0 {
		header += " "
	}
	return rawFile(uint64(len(header)), header, data)
}

// rawFile returns the header length n, header and data, unchecked.
func rawFile(n uint64, header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, n)
	return append(append(b, header...), data...)
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// goldenCases are files whose bytes are written out by hand from the
// specification: 8-byte little-endian header length, compact JSON header
// with "__metadata__" first and tensors in data order, spaces up to a
// multiple of 8, little-endian data. They are also in testdata/ and seed
// FuzzRead.
var goldenCases = []struct {
	name string
	file *File
	want []byte
}{
	{
		// The test_serialization vector of the reference implementation:
		// 64 header bytes need no padding.
		name: "attn",
		file: &File{Tensors: map[string]*Tensor{
			"attn.0": {DType: F32, Shape: []int{1, 2, 3}, F32: []float32{0, 1, 2, 3, 4, 5}},
		}},
		want: append(unhex("4000000000000000"),
			append([]byte(`{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`),
				unhex("00000000 0000803f 00000040 00004040 00008040 0000a040")...)...),
	},
	{
		name: "empty",
		file: &File{},
		want: append(unhex("0800000000000000"), "{}      "...),
	},
	{
		// A BatchNorm-style state dict: I64 first, then F64, then F32,
		// each group by name; 284 header bytes padded to 288 (0x120).
		name: "mixed",
		file: &File{
			Metadata: map[string]string{"step": "7", "format": "pt"},
			Tensors: map[string]*Tensor{
				"w":                      {DType: F32, Shape: []int{2, 1}, F32: []float32{-0.25, 3}},
				"b":                      {DType: F32, Shape: []int{1}, F32: []float32{1.5}},
				"w64":                    {DType: F64, Shape: []int{2}, F64: []float64{0.5, -2}},
				"bn.num_batches_tracked": {DType: I64, Shape: []int{}, I64: []int64{3}},
			},
		},
		want: append(unhex("2001000000000000"),
			append([]byte(`{"__metadata__":{"format":"pt","step":"7"},`+
				`"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},`+
				`"w64":{"dtype":"F64","shape":[2],"data_offsets":[8,24]},`+
				`"b":{"dtype":"F32","shape":[1],"data_offsets":[24,28]},`+
				`"w":{"dtype":"F32","shape":[2,1],"data_offsets":[28,36]}}    `),
				unhex("0300000000000000 000000000000e03f 00000000000000c0 0000c03f 000080be 00004040")...)...),
	},
	{
		// Empty tensors share an offset; a scalar has shape []; names and
		// metadata need JSON escapes (serde_json's: no HTML escaping);
		// 205 header bytes (é is two) padded to 208 (0xd0).
		name: "edge",
		file: &File{
			Metadata: map[string]string{"a\"b": "<&>\n\x01é"},
			Tensors: map[string]*Tensor{
				"z1": {DType: F32, Shape: []int{0, 3}, F32: []float32{}},
				"z2": {DType: F32, Shape: []int{3, 0}, F32: []float32{}},
				"s":  {DType: F32, Shape: []int{}, F32: []float32{float32(math.Inf(-1))}},
			},
		},
		want: append(unhex("d000000000000000"),
			append([]byte(`{"__metadata__":{"a\"b":"<&>\n\u0001é"},`+
				`"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},`+
				`"z1":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},`+
				`"z2":{"dtype":"F32","shape":[3,0],"data_offsets":[4,4]}}   `),
				unhex("000080ff")...)...),
	},
}

func TestWriteGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, c.file); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), c.want) {
				t.Fatalf("Write produced\n%q\nwant\n%q", buf.Bytes(), c.want)
			}
			got, err := Read(bytes.NewReader(c.want), int64(len(c.want)))
			if err != nil {
				t.Fatal(err)
			}
			if msg := diffFiles(got, c.file); msg != "" {
				t.Fatal(msg)
			}
			path := filepath.Join("testdata", c.name+".safetensors")
			if *update {
				if err := WriteFile(path, c.file); err != nil {
					t.Fatal(err)
				}
			}
			disk, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(disk, c.want) {
				t.Errorf("%s differs from the golden bytes; run go test -update", path)
			}
		})
	}
}

// diffFiles describes the first difference between a and b, comparing
// floats bit for bit and nil metadata equal to empty metadata, or returns "".
func diffFiles(a, b *File) string {
	if len(a.Metadata) != len(b.Metadata) {
		return "metadata differ"
	}
	for k, v := range a.Metadata {
		if w, ok := b.Metadata[k]; !ok || v != w {
			return "metadata differ at " + k
		}
	}
	if !slices.Equal(a.Names(), b.Names()) {
		return "names differ: " + strings.Join(a.Names(), ",") + " vs " + strings.Join(b.Names(), ",")
	}
	for name, x := range a.Tensors {
		y := b.Tensors[name]
		if x.DType != y.DType || !slices.Equal(x.Shape, y.Shape) || x.Len() != y.Len() {
			return "tensor " + name + " differs in dtype, shape or length"
		}
		for i := range x.Len() {
			var same bool
			switch x.DType {
			case F32:
				same = math.Float32bits(x.F32[i]) == math.Float32bits(y.F32[i])
			case F64:
				same = math.Float64bits(x.F64[i]) == math.Float64bits(y.F64[i])
			case I64:
				same = x.I64[i] == y.I64[i]
			}
			if !same {
				return "tensor " + name + " differs in its data"
			}
		}
	}
	return ""
}

func TestRoundTrip(t *testing.T) {
	nan32 := math.Float32frombits(0x7fc00001)
	nan64 := math.Float64frombits(0xfff8000000000123)
	f := &File{
		Metadata: map[string]string{"framework": "hesscope", "": ""},
		Tensors: map[string]*Tensor{
			"fc.weight":  {DType: F32, Shape: []int{2, 3}, F32: []float32{1, -2, 3.5, float32(math.Copysign(0, -1)), nan32, float32(math.Inf(1))}},
			"fc.bias":    {DType: F64, Shape: []int{2}, F64: []float64{math.Pi, nan64}},
			"steps":      {DType: I64, Shape: []int{3}, I64: []int64{math.MinInt64, -1, math.MaxInt64}},
			"":           {DType: F32, Shape: []int{1, 1, 1, 1}, F32: []float32{7}},
			"big":        {DType: F32, Shape: []int{40000}, F32: make([]float32, 40000)}, // more than one 64 KiB chunk
			"émoji ✓ \t": {DType: F64, Shape: []int{}, F64: []float64{-1}},
		},
	}
	for i := range f.Tensors["big"].F32 {
		f.Tensors["big"].F32[i] = float32(i) * 0.5
	}
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint64(buf.Bytes()); n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	got, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if msg := diffFiles(got, f); msg != "" {
		t.Fatal(msg)
	}
	var again bytes.Buffer
	if err := Write(&again, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("writing the file read back gives other bytes")
	}

	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	disk, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if msg := diffFiles(disk, f); msg != "" {
		t.Fatal(msg)
	}
}

// corruptCases are hostile or broken files, each rejected with a
// *FormatError whose message holds want. They also seed FuzzRead.
var corruptCases = []struct {
	name string
	data []byte
	want string
}{
	{"empty input", nil, "too short"},
	{"7 bytes", []byte("\x08\x00\x00\x00\x00\x00\x00"), "too short"},
	{"header length over the cap", rawFile(MaxHeaderSize+1, "{}", nil), "exceeds the limit"},
	{"header length 2^64-1", rawFile(math.MaxUint64, "{}", nil), "exceeds the limit"},
	{"header length past the end", rawFile(1000, "{}      ", nil), "exceeds the 8 bytes that follow"},
	{"header length zero", rawFile(0, "", nil), "does not begin with '{'"},
	{"PNG image", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"), "not a safetensors file: a PNG image"},
	{"PyTorch zip", []byte("PK\x03\x04\x00\x00\x08\x08\x00\x00archive/data.pkl"), "not a safetensors file: a zip archive (a PyTorch .pt/.pth file?"},
	{"8 bytes of text", []byte("hello wo"), "not a safetensors file (it does not start"},
	{"text", []byte("hello world, this is not a checkpoint\n"), "not a safetensors file (it does not start"},
	{"truncated JSON", safetensors(`{"a":`, nil), "not valid JSON"},
	{"JSON array", safetensors(`[]`, nil), "does not begin with '{'"},
	{"only spaces", safetensors(`    `, nil), "does not begin with '{'"},
	{"invalid UTF-8", safetensors("{\"\xff\":1}", nil), "UTF-8"},
	{"NUL padding", rawFile(8, "{}\x00\x00\x00\x00\x00\x00", nil), "data after the JSON object"},
	{"two objects", safetensors(`{}{}`, nil), "data after the JSON object"},
	{"trailing garbage", safetensors(`{}x`, nil), "data after the JSON object"},
	{"deep nesting", safetensors(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4],"x":`+
		strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}}`, make([]byte, 4)), "not valid JSON"},
	{"entry not an object", safetensors(`{"a":[1]}`, nil), `tensor "a": header entry is an array`},
	{"no dtype", safetensors(`{"a":{"shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": no dtype`},
	{"no shape", safetensors(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": no shape`},
	{"no offsets", safetensors(`{"a":{"dtype":"F32","shape":[]}}`, make([]byte, 4)), `tensor "a": no data_offsets`},
	{"dtype not a string", safetensors(`{"a":{"dtype":4,"shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), "dtype is the number 4"},
	{"unknown dtype", safetensors(`{"a":{"dtype":"F33","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), `unknown dtype "F33"`},
	{"duplicate names", safetensors(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}`, make([]byte, 8)), `duplicate key "a"`},
	{"duplicate field", safetensors(`{"a":{"dtype":"F32","dtype":"F64","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), `duplicate key "dtype"`},
	{"three offsets", safetensors(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4,8]}}`, make([]byte, 4)), "data_offsets has 3 numbers"},
	{"offsets not an array", safetensors(`{"a":{"dtype":"F32","shape":[],"data_offsets":"0-4"}}`, make([]byte, 4)), "data_offsets is a string"},
	{"negative offset", safetensors(`{"a":{"dtype":"F32","shape":[],"data_offsets":[-4,0]}}`, make([]byte, 4)), "-4 is negative"},
	{"negative dimension", safetensors(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "shape: -1 is negative"},
	{"fractional dimension", safetensors(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, make([]byte, 4)), "1.5 is not an integer"},
	{"exponent dimension", safetensors(`{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}`, make([]byte, 4)), "1e0 is not an integer"},
	{"dimension past int64", safetensors(`{"a":{"dtype":"F32","shape":[100000000000000000000],"data_offsets":[0,4]}}`, make([]byte, 4)), "is too large"},
	{"dimension null", safetensors(`{"a":{"dtype":"F32","shape":[null],"data_offsets":[0,4]}}`, make([]byte, 4)), "found null where an integer"},
	{"numel overflow", safetensors(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil), "overflows"},
	{"byte size overflow", safetensors(`{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}`, nil), "overflows"},
	{"bytes do not match shape", safetensors(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "hold 8 bytes, but shape [3] of F32 needs 12"},
	{"end before begin", safetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, make([]byte, 8)), "end before they begin"},
	{"gap at start", safetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "leave a gap after byte 0"},
	{"gap between", safetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), `tensor "b": data_offsets [8, 12] leave a gap after byte 4`},
	{"overlap", safetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), `tensor "b": data_offsets [4, 12] overlap the previous tensor`},
	{"same offsets twice", safetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 8)), "overlap"},
	{"offsets past the end", safetensors(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 8)), "need 16 bytes of data, the file has 8"},
	{"huge tensor, tiny file", safetensors(`{"a":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}`, make([]byte, 8)), "file truncated"},
	{"offset past int64", safetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}`, make([]byte, 4)), "is too large"},
	{"trailing data", safetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 12)), "8 bytes of data after the last tensor"},
	{"data without tensors", safetensors(`{}`, make([]byte, 1)), "1 bytes of data after the last tensor"},
	{"metadata not an object", safetensors(`{"__metadata__":["a"]}`, nil), "__metadata__ is an array, not an object"},
	{"metadata value not a string", safetensors(`{"__metadata__":{"epoch":3}}`, nil), `__metadata__["epoch"] is the number 3, not a string`},
	{"metadata value nested", safetensors(`{"__metadata__":{"a":{}}}`, nil), `__metadata__["a"] is an object`},
	{"metadata duplicate key", safetensors(`{"__metadata__":{"a":"1","a":"2"}}`, nil), `__metadata__: duplicate key "a"`},
	{"metadata twice", safetensors(`{"__metadata__":{},"__metadata__":{}}`, nil), `duplicate key "__metadata__"`},
}

func TestReadCorrupt(t *testing.T) {
	for _, c := range corruptCases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Read(bytes.NewReader(c.data), int64(len(c.data)))
			if err == nil {
				t.Fatalf("Read succeeded with %d tensors, want an error containing %q", len(f.Tensors), c.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("error %q (%T) is not a *FormatError", err, err)
			}
			prefix := "checkpoint: invalid safetensors file: "
			if strings.HasPrefix(c.want, "not a safetensors file") {
				prefix = "checkpoint: "
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q, want it to begin %q and contain %q", err, prefix, c.want)
			}
		})
	}
}

func TestReadUnsupported(t *testing.T) {
	for _, dt := range []string{"F16", "BF16", "I32", "BOOL"} {
		data := safetensors(`{"ok":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"`+dt+`","shape":[2],"data_offsets":[4,8]}}`, make([]byte, 8))
		_, err := Read(bytes.NewReader(data), int64(len(data)))
		var ue *UnsupportedError
		if !errors.As(err, &ue) || ue.DType != DType(dt) || ue.Tensor != "x" {
			t.Errorf("%s: got %v (%T), want an *UnsupportedError for tensor x", dt, err, err)
			continue
		}
		if want := "unsupported dtype " + dt + ` of tensor "x"`; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
		var fe *FormatError
		if errors.As(err, &fe) {
			t.Errorf("%s: unsupported is also a FormatError", dt)
		}
	}
}

// failingReaderAt fails every read after the first n bytes.
type failingReaderAt struct {
	data []byte
	n    int64
}

var errDisk = errors.New("disk on fire")

func (r failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > r.n {
		return 0, errDisk
	}
	return copy(p, r.data[off:]), nil
}

func TestReadIOError(t *testing.T) {
	data := goldenCases[0].want
	for _, n := range []int64{0, 8, int64(len(data)) - 1} {
		_, err := Read(failingReaderAt{data, n}, int64(len(data)))
		if !errors.Is(err, errDisk) || !strings.HasPrefix(err.Error(), "checkpoint: reading") {
			t.Errorf("failing after %d bytes: got %v, want a checkpoint: reading ... error wrapping %v", n, err, errDisk)
		}
	}
	// A size larger than the content is an I/O error, not a format error.
	_, err := Read(bytes.NewReader(data[:len(data)-4]), int64(len(data)))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short content: got %v, want unexpected EOF", err)
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.safetensors")
	if _, err := ReadFile(missing); err == nil || !strings.HasPrefix(err.Error(), "checkpoint: "+missing+": open: ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: got %v", err)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, safetensors(`{"a":{}}`, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(bad)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Path != bad || !strings.HasPrefix(err.Error(), "checkpoint: "+bad+": invalid safetensors file: tensor \"a\": no dtype") {
		t.Errorf("bad file: got %v", err)
	}
	unsup := filepath.Join(dir, "half.safetensors")
	if err := os.WriteFile(unsup, safetensors(`{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`, make([]byte, 2)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadFile(unsup)
	if want := "checkpoint: " + unsup + `: unsupported dtype F16 of tensor "h"`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("F16 file: got %v, want %s...", err, want)
	}
}

func TestWriteInvalid(t *testing.T) {
	cases := []struct {
		name string
		file *File
		want string
	}{
		{"nil tensor", &File{Tensors: map[string]*Tensor{"a": nil}}, `tensor "a" is nil`},
		{"bad dtype", &File{Tensors: map[string]*Tensor{"a": {DType: "F16", Shape: []int{1}}}}, `cannot write dtype "F16"`},
		{"short data", &File{Tensors: map[string]*Tensor{"a": {DType: F32, Shape: []int{2, 2}, F32: []float32{1, 2, 3}}}}, "3 F32 elements do not fit shape [2, 2]"},
		{"data in the wrong slice", &File{Tensors: map[string]*Tensor{"a": {DType: F64, Shape: []int{1}, F32: []float32{1}}}}, "0 F64 elements"},
		{"negative shape", &File{Tensors: map[string]*Tensor{"a": {DType: F32, Shape: []int{-1}}}}, "invalid shape [-1]"},
		{"metadata name", &File{Tensors: map[string]*Tensor{"__metadata__": {DType: F32, Shape: []int{}, F32: []float32{1}}}}, "may not be named"},
		{"invalid UTF-8 name", &File{Tensors: map[string]*Tensor{"\xff": {DType: F32, Shape: []int{}, F32: []float32{1}}}}, "not valid UTF-8"},
		{"invalid UTF-8 metadata", &File{Metadata: map[string]string{"k": "\xfe"}}, "not valid UTF-8"},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		err := Write(&buf, c.file)
		if err == nil || !strings.HasPrefix(err.Error(), "checkpoint: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: wrote %d bytes before failing", c.name, buf.Len())
		}
	}
}

// TestReadLenient lists what Read accepts, as the reference reader does,
// though Write never produces it.
func TestReadLenient(t *testing.T) {
	four := make([]byte, 4)
	cases := []struct {
		name  string
		data  []byte
		names []string
	}{
		{"leading whitespace", safetensors(" \n\t{}", nil), []string{}},
		{"header length not a multiple of 8", rawFile(3, "{} ", nil), []string{}},
		{"no padding", rawFile(2, "{}", nil), []string{}},
		{"tensors out of data order", safetensors(`{"b":{"dtype":"F32","shape":[],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 8)), []string{"a", "b"}},
		{"names out of order in the data", safetensors(`{"b":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}`, make([]byte, 8)), []string{"a", "b"}},
		{"misaligned F64", safetensors(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"b":{"dtype":"F64","shape":[],"data_offsets":[4,12]}}`, make([]byte, 12)), []string{"a", "b"}},
		{"unknown field", safetensors(`{"a":{"dtype":"F32","quant":{"x":[1,{}]},"shape":[],"data_offsets":[0,4]}}`, four), []string{"a"}},
		{"fields in any order", safetensors(`{"a":{"data_offsets":[0,4],"shape":[1],"dtype":"F32"}}`, four), []string{"a"}},
		{"null metadata", safetensors(`{"__metadata__":null,"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, four), []string{"a"}},
		{"metadata last", safetensors(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"__metadata__":{"k":"v"}}`, four), []string{"a"}},
		{"empty name", safetensors(`{"":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, four), []string{""}},
		{"empty tensor with huge dimensions", safetensors(`{"a":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}`, nil), []string{"a"}},
		{"escapes", safetensors(`{"\u0061\n\ud83d\ude00":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, four), []string{"a\n😀"}},
	}
	for _, c := range cases {
		f, err := Read(bytes.NewReader(c.data), int64(len(c.data)))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := f.Names(); !slices.Equal(got, c.names) {
			t.Errorf("%s: tensors %q, want %q", c.name, got, c.names)
		}
	}
}

func BenchmarkWriteRead(b *testing.B) {
	f := FromStateDict(model[float32](0), nil)
	f.Tensors["big"] = &Tensor{DType: F32, Shape: []int{1 << 20}, F32: make([]float32, 1<<20)}
	var buf bytes.Buffer
	b.SetBytes(4 << 20)
	for b.Loop() {
		buf.Reset()
		if err := Write(&buf, f); err != nil {
			b.Fatal(err)
		}
		if _, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadNames reads a file's tensor names and metadata from its header
// alone, with ReadFile's checks of the header: a file cut short (its data
// missing) is refused as ReadFile refuses it.
func TestReadNames(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.safetensors")
	f := &File{Tensors: map[string]*Tensor{
		"y": {DType: I64, Shape: []int{2}, I64: []int64{1, 2}},
		"x": {DType: F32, Shape: []int{2, 2}, F32: []float32{1, 2, 3, 4}},
	}, Metadata: map[string]string{"model": "mlp"}}
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	names, meta, err := ReadNames(path)
	if err != nil || !slices.Equal(names, []string{"x", "y"}) || meta["model"] != "mlp" {
		t.Errorf("ReadNames: %v, %v, %v; want [x y], model mlp", names, meta, err)
	}
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, b[:len(b)-4], 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = ReadNames(path)
	if _, want := ReadFile(path); err == nil || want == nil || err.Error() != want.Error() {
		t.Errorf("truncated file: ReadNames %v, ReadFile %v; want the same error", err, want)
	}
	if _, _, err := ReadNames(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: got %v", err)
	}
}
