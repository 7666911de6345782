// Package checkpoint reads and writes safetensors files, the format of
// Hugging Face's safetensors library, so that hesscope checkpoints load in
// PyTorch (safetensors.torch.load_file, then load_state_dict(strict=True))
// and PyTorch checkpoints load here. It also provides WriteFileAtomic, the
// atomic file write every hesscope package uses.
//
// # Format
//
// A safetensors file is
//
//	8 bytes   N, the header length, little-endian uint64
//	N bytes   a UTF-8 JSON object, padded with spaces
//	rest      the data buffer
//
// The header maps each tensor name to
// {"dtype":"F32","shape":[2,3],"data_offsets":[begin,end]}, where the offsets
// are byte offsets into the data buffer; the optional key "__metadata__" holds
// a string-to-string map. Tensor data is little-endian in C (row-major) order.
// The data of the tensors must tile the buffer exactly: sorted by offset, each
// tensor begins where the previous one ends, the last one ends at the end of
// the file, and each holds exactly numel × element size bytes.
//
// # Reading
//
// Read and ReadFile accept the element types F32, F64 and I64. A file that
// breaks the format yields a *FormatError; a valid file holding another
// element type (F16, BF16, I32, ...) yields an *UnsupportedError. A header
// length is trusted only after it has been checked against MaxHeaderSize and
// against the size of the file, and tensor data is allocated only after the
// whole header has been checked against the file size, so a hostile file
// cannot make Read allocate much more than its own size.
//
// # Writing
//
// Write produces what the reference implementation produces: the header lists
// "__metadata__" first (keys sorted, where the reference leaves their order to
// a hash map), then the tensors in data order; tensors
// are ordered by decreasing element alignment (I64, F64, F32), then by name,
// and stored contiguously; the header is padded with spaces to a multiple of 8
// bytes so that every tensor is aligned. The same File always gives the same
// bytes.
//
// # State dicts
//
// Named lists a model's tensors under their PyTorch state-dict keys.
// FromStateDict builds a File from it and LoadInto copies a File back,
// reporting missing, unexpected, misshapen and non-finite tensors by name.
package checkpoint
