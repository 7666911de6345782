package data

import (
	"fmt"
	"math"
)

// Norm is a per-channel normalisation x′ = (x − Mean[c]) / Std[c], with one
// Mean and one Std per channel.
type Norm struct {
	Mean, Std []float32
}

// standardNorms are the per-channel mean and standard deviation of each
// dataset's training split, pixels in [0, 1], with the population standard
// deviation over all pixels of the channel. The MNIST and Fashion-MNIST
// values are checked against the real files by the tests. The CIFAR values
// are those commonly used with torchvision; note that the CIFAR-10 std is
// the per-pixel one, (0.2470, 0.2435, 0.2616), not the (0.2023, 0.1994,
// 0.2010) found in some training scripts.
var standardNorms = map[string]Norm{
	"mnist":         {Mean: []float32{0.1307}, Std: []float32{0.3081}},
	"fashion-mnist": {Mean: []float32{0.2860}, Std: []float32{0.3530}},
	"cifar10":       {Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2470, 0.2435, 0.2616}},
	"cifar100":      {Mean: []float32{0.5071, 0.4865, 0.4409}, Std: []float32{0.2673, 0.2564, 0.2762}},
}

// StandardNorm returns the standard normalisation of the named dataset: the
// per-channel mean and standard deviation of its training split.
func StandardNorm(name string) (Norm, error) {
	m, ok := standardNorms[name]
	if !ok {
		return Norm{}, unknownName(name)
	}
	return Norm{Mean: append([]float32(nil), m.Mean...), Std: append([]float32(nil), m.Std...)}, nil
}

// Stats measures d's per-channel mean and population standard deviation,
// accumulating in float64. Both are zero for an empty dataset.
func (d *Dataset) Stats() Norm {
	m := Norm{Mean: make([]float32, d.C), Std: make([]float32, d.C)}
	hw := d.H * d.W
	if d.N*hw == 0 {
		return m
	}
	for c := range d.C {
		var sum, sumSq float64
		for n := range d.N {
			for _, v := range d.X[(n*d.C+c)*hw : (n*d.C+c+1)*hw] {
				sum += float64(v)
				sumSq += float64(v) * float64(v)
			}
		}
		count := float64(d.N * hw)
		mean := sum / count
		m.Mean[c] = float32(mean)
		m.Std[c] = float32(math.Sqrt(max(sumSq/count-mean*mean, 0)))
	}
	return m
}

// ApplyTo writes the normalised src to dst. src holds whole images of
// len(m.Mean) channels of hw values each, in NCHW order; dst must have the
// same length and may be src itself. It panics on mismatched lengths.
func (m Norm) ApplyTo(dst, src []float32, hw int) {
	c := len(m.Mean)
	if len(m.Std) != c || c == 0 {
		panic(fmt.Sprintf("data: Norm has %d means and %d standard deviations", c, len(m.Std)))
	}
	if len(dst) != len(src) || hw <= 0 || len(src)%(c*hw) != 0 {
		panic(fmt.Sprintf("data: Norm.ApplyTo: dst %d and src %d values, not whole images of %d×%d", len(dst), len(src), c, hw))
	}
	for off := 0; off < len(src); off += hw {
		ch := off / hw % c
		mean, inv := m.Mean[ch], 1/m.Std[ch]
		for i, v := range src[off : off+hw] {
			dst[off+i] = (v - mean) * inv
		}
	}
}

// Normalized returns a copy of d with its images normalised by m. It panics
// if m does not have d.C channels.
func (d *Dataset) Normalized(m Norm) *Dataset {
	if len(m.Mean) != d.C {
		panic(fmt.Sprintf("data: Normalized: Norm has %d channels, dataset %q %d", len(m.Mean), d.Name, d.C))
	}
	out := *d
	out.X = make([]float32, len(d.X))
	out.Y = append([]int(nil), d.Y...)
	if len(d.X) > 0 {
		m.ApplyTo(out.X, d.X, d.H*d.W)
	}
	return &out
}
